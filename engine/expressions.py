"""Safe expressions for ``if``, ``while`` and ``cases``, evaluated by simpleeval.

References inside an expression are bound as values (``<a.b> == "x"`` becomes
``__ref_0 == "x"``), never pasted as source; inside a string literal a reference
is plain text. Parsed and checked once at load time, so ``flowyard validate``
reports what the evaluator would refuse: a call outside the allow-list, syntax it
cannot run, a name that would be undefined.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

from simpleeval import (
    DEFAULT_FUNCTIONS,
    MAX_COMPREHENSION_LENGTH,
    MAX_STRING_LENGTH,
    AttributeDoesNotExist,
    EvalWithCompoundTypes,
    InvalidExpression,
    IterableTooLong,
)

from engine._json import SURROGATE
from engine.python_refs import rewrite_python
from engine.references import MissingReference, Reference, Scope, resolve


def timestamp(value: Any) -> float:
    """ISO 8601 text (or epoch seconds) as seconds since the epoch, to compare
    instants: as text, `…T10:00:00+02:00` sorts after `…T09:00:00Z`, which it precedes.
    Text without an offset is UTC, the zone every run record and webhook writes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise TypeError(
            f"timestamp() reads ISO 8601 text or epoch seconds, not {type(value).__name__}"
        )
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"timestamp(): {value!r} is not an ISO 8601 date or time: {exc}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


FUNCTIONS = {
    **DEFAULT_FUNCTIONS,
    "len": len,
    "abs": abs,
    "min": min,
    "max": max,
    "round": round,
    "sum": sum,
    "any": any,
    "all": all,
    "bool": bool,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "timestamp": timestamp,
    "now": time.time,
    # EvalWithCompoundTypes adds these to whatever dict it is given; named here so the
    # allow-list is the same whether or not an evaluator was built before.
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "set": set,
}

#: JSON Schema of a config value that is an expression. A YAML boolean or number
#: (`while: true`) is one too, meaning what the same text means; null is refused
#: (an empty `if:` is more likely a slip than a wish for "never").
EXPRESSION_SCHEMA: dict[str, Any] = {"type": ["string", "boolean", "number"]}


#: Methods an expression may call: they read, never change, the value they are
#: called on. References are bound to the upstream blocks' own outputs, so a call
#: such as ``<a.items>.clear()`` would corrupt what later blocks see.
SAFE_METHODS = frozenset(
    {
        # str
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith", "split",
        "rsplit", "splitlines", "replace", "join", "find", "rfind", "index", "count",
        "isdigit", "isalpha", "isalnum", "isspace", "isnumeric", "isdecimal", "islower",
        "isupper", "title", "capitalize", "casefold", "removeprefix", "removesuffix",
        "partition", "rpartition",
        # dict (list.index and list.count are named above)
        "get", "keys", "values", "items",
    }
)  # fmt: skip


class ExpressionError(ValueError):
    pass


#: The name a reference is bound to in the expression's source (``__ref_0``).
_BOUND_NAME = re.compile(r"__ref_(\d+)")


def _check_calls(tree: ast.AST, text: str) -> None:
    """The SPEC's "no calls but an allow-list", checked when the workflow loads (so
    `flowyard validate` reports it): functions from FUNCTIONS, methods from
    SAFE_METHODS, and no dunder or private attributes."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError(f"bad expression {text!r}: no access to {node.attr!r}")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in FUNCTIONS:
            continue
        if isinstance(func, ast.Attribute) and func.attr in SAFE_METHODS:
            continue
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        what = f"{name}() is not allowed" if name else "only named functions can be called"
        raise ExpressionError(f"bad expression {text!r}: {what}")


#: Syntax the evaluator has no rule for, in the user's words.
_SYNTAX_WORDS = {
    ast.Lambda: "lambda",
    ast.SetComp: "a set comprehension (use a list: [x for x in …])",
    ast.NamedExpr: "the := operator",
    ast.Starred: "* unpacking outside a list",
    ast.MatMult: "the @ operator",
}
_EVALUATOR_NODES = frozenset(EvalWithCompoundTypes(names={}, functions={}).nodes)
_EVALUATOR_OPERATORS = frozenset(EvalWithCompoundTypes(names={}, functions={}).operators)


#: How deep an expression may nest (``a + b + c`` is a level per ``+``). simpleeval
#: evaluates recursively, several Python frames a level: a condition summing ~300
#: references validated and then failed every run with a RecursionError. A list is
#: not nested, so ``sum([<a.n>, <b.n>, …])`` has no such limit.
MAX_EXPRESSION_DEPTH = 200


def _check_depth(tree: ast.AST, text: str) -> None:
    todo = [(tree, 1)]  # iterative: a recursive walk would hit the recursion limit itself
    while todo:
        node, depth = todo.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionError(
                f"bad expression {text!r}: nested more than {MAX_EXPRESSION_DEPTH} levels deep"
                " (each operator applied to a result is a level); sum([...]) or all([...])"
                " over a list of values is not nested"
            )
        todo.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _check_syntax(tree: ast.AST, text: str) -> None:
    """Refuse what simpleeval would refuse only when a run evaluates it."""
    _check_depth(tree, text)
    listed: set[int] = set()  # `[*a, *b]` is the one place simpleeval takes a `*`
    for node in ast.walk(tree):  # breadth first: a list is seen before its items
        if isinstance(node, ast.List):
            listed.update(id(e) for e in node.elts if isinstance(e, ast.Starred))
        ops = []
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            ops = [node.op]
        elif isinstance(node, ast.Compare):
            ops = node.ops
        bad: Any = next((op for op in ops if type(op) not in _EVALUATOR_OPERATORS), None)
        if bad is None and isinstance(node, ast.expr) and type(node) not in _EVALUATOR_NODES:
            bad = None if id(node) in listed else node
        if bad is not None:
            what = _SYNTAX_WORDS.get(type(bad), type(bad).__name__)
            raise ExpressionError(f"bad expression {text!r}: {what} is not supported")


#: Names written as in JSON or YAML, and what the expression means by them.
_NAME_HINTS = {"true": "True", "false": "False", "null": "None", "none": "None"}


def _check_names(tree: ast.AST, text: str, defined: frozenset[str]) -> None:
    """Every name must be bound when the run evaluates the expression: a reference
    (``__ref_N``), a function of the allow-list, or a comprehension's variable."""
    for name in _free_names(tree, defined):
        hint = _NAME_HINTS.get(name.lower())
        # `start.x == "a"`: a block's field written without its <…>.
        field = next(
            (
                n.attr
                for n in ast.walk(tree)
                if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name)
                and n.value.id == name
            ),
            None,
        )
        if "{{" in text:
            why = _other_language(text).removeprefix("; ")
        elif hint and hint != name:
            why = f"did you mean {hint}?"
        elif field is not None:
            why = f"a value is written as a reference: did you mean <{name}.{field}>?"
        else:
            # `<start.status> == paid`: the text meant, without its quotes.
            why = (
                "a value is written as a reference, e.g. <block.field> or <item>, and text "
                f'in quotes: "{name}"'
            )
        raise ExpressionError(f"bad expression {text!r}: {name!r} is not defined; {why}")


#: JavaScript's and Jinja's ways of writing what a Python-style expression writes
#: otherwise: what newcomers from n8n, Zapier or Ansible type first.
_OTHER_SYNTAX = (
    (re.compile(r"\{\{|\}\}"), "a value is a reference such as <block.field>, not {{ … }}"),
    (re.compile(r"[=!]=="), "compare with == and != (not === and !==)"),
    (re.compile(r"&&"), "write and (not &&)"),
    (re.compile(r"\|\|"), "write or (not ||)"),
    (re.compile(r"!(?!=)"), "write not (not !)"),
    (re.compile(r"(?<![=!<>])=(?!=)"), "compare with == (= is no comparison)"),
)
_QUOTED = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")


def _other_language(text: str) -> str:
    """``"; write and (not &&) …"`` when ``text`` (its quoted strings left out) is
    written the JavaScript or Jinja way; ``""`` otherwise."""
    code = _QUOTED.sub('""', text)
    said = [words for pattern, words in _OTHER_SYNTAX if pattern.search(code)]
    return f"; expressions are Python-style: {', '.join(said)}" if said else ""


def _free_names(node: ast.AST, bound: frozenset[str]) -> Iterator[str]:
    if isinstance(node, ast.Name):
        if node.id not in bound:
            yield node.id
        return
    if isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.DictComp, ast.SetComp)):
        # As in Python: the first `in` is read outside the comprehension; each `for`
        # binds its variables for the conditions, the later `for`s and the element.
        scope = bound
        for gen in node.generators:
            yield from _free_names(gen.iter, scope)
            scope = scope | {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
            for cond in gen.ifs:
                yield from _free_names(cond, scope)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            yield from _free_names(part, scope)
        return
    for child in ast.iter_child_nodes(node):
        yield from _free_names(child, bound)


class _Evaluator(EvalWithCompoundTypes):
    """simpleeval, where ``.name`` on a JSON object reads its field, as a reference's
    path does. simpleeval looked the attribute up on the Python dict first: a field
    named like a dict method (``items``, ``values``, ``keys``, ``get``) read as that
    method, always true, so ``not <f.cart>.items`` took the wrong branch for an
    empty cart. A method is an attribute that is called (``<f.cart>.get("k")``)."""

    def __init__(self, tree: ast.AST) -> None:
        # A copy of FUNCTIONS: the evaluator adds to the dict it is given.
        super().__init__(names={}, functions=dict(FUNCTIONS))
        self._called = frozenset(
            id(n.func)
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        )

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if id(node) in self._called:
            return super()._eval_attribute(node)
        value = self._eval(node.value)
        if not isinstance(value, dict):
            return super()._eval_attribute(node)
        if node.attr in value:
            return value[node.attr]
        # As simpleeval says a missing attribute: Expression.evaluate words it.
        raise AttributeDoesNotExist(node.attr, self.expr)


#: simpleeval's limits against runaway expressions, said where one is reached: its
#: own words ("Comprehension generates too many elements") gave neither the limit nor
#: a way round it, and `all(r.ok for r in <db.rows>)` over 10,001 rows hit it.
_TOO_LONG = (
    f" (an expression's comprehensions take at most {MAX_COMPREHENSION_LENGTH:,} steps,"
    f" and + or * make no text or list longer than {MAX_STRING_LENGTH:,}):"
    " compute the value in a Function block, which has no such limit, and test its output"
)


class _Names(dict):
    """An expression's names, each reference (``__ref_N``) resolved when the
    evaluator first reads it. ``and``, ``or`` and ``x if c else y`` then read only the
    side they take, as in Python: every reference used to be resolved first, so the
    guard ``<a.coupon?> and <a.coupon.code> == "VIP"`` failed the run on a missing
    ``<a.coupon.code>`` for exactly the orders it was written for."""

    def __init__(self, refs: list[Reference], scope: Scope) -> None:
        super().__init__()
        self._refs, self._scope = refs, scope

    def __missing__(self, name: str) -> Any:
        m = _BOUND_NAME.fullmatch(name)
        if m is None or int(m.group(1)) >= len(self._refs):
            raise KeyError(name)
        value = self[name] = resolve(self._refs[int(m.group(1))], self._scope)
        return value

    def recorded(self, texts: tuple[str, ...]) -> dict[str, Any]:
        """Each reference's text and value for the block's record: those read, and
        those not read that resolve (the record shows what the expression could
        see); one left unread because it is missing is not there."""
        shown = {}
        for i, text in enumerate(texts):
            try:
                shown[text] = self[f"__ref_{i}"]
            except MissingReference:
                continue
        return shown


class Expression:
    """A compiled expression: source with references turned into names.

    ``text`` may be a YAML boolean or number (``while: true``): it means what the
    same expression text means. ``names`` are extra names the caller will pass to
    :meth:`evaluate` as ``extra``.
    """

    __slots__ = ("text", "source", "refs", "_texts", "_tree", "_evaluator")

    def __init__(
        self, text: str | bool | float, known_roots: Any = None, names: Iterable[str] = ()
    ) -> None:
        self.text = text
        if isinstance(text, (bool, int, float)):
            self.source, self.refs = repr(text), []
            self._tree: ast.expr = ast.Constant(text)
        elif isinstance(text, str):
            if lone := SURROGATE.search(text):  # ast.parse raised UnicodeEncodeError
                raise ExpressionError(
                    f"bad expression {text!r}: it contains a lone UTF-16 surrogate "
                    f"(\\u{ord(lone.group()):04x}), which is not text"
                )
            self.source, self.refs = rewrite_python(text, known_roots)
            try:
                self._tree = ast.parse(self.source.strip(), mode="eval").body
            except SyntaxError as exc:
                hint = _other_language(text)
                raise ExpressionError(f"bad expression {text!r}: {exc.msg}{hint}") from None
            except RecursionError:  # too deep for Python's own parser (~1,000 levels)
                raise ExpressionError(
                    f"bad expression {text!r}: nested more than {MAX_EXPRESSION_DEPTH} levels deep"
                ) from None
        else:
            raise ExpressionError(
                f"bad expression {text!r}: an expression is text, true/false or a number"
            )
        _check_syntax(self._tree, str(text))
        _check_calls(self._tree, str(text))
        self._texts = tuple(ref.text for ref in self.refs)
        refs = {f"__ref_{i}" for i in range(len(self.refs))}
        _check_names(self._tree, str(text), frozenset(FUNCTIONS) | refs | frozenset(names))
        # Building an evaluator costs more than evaluating: keep one, swap its names.
        # Safe because evaluation is synchronous on the event loop's thread.
        self._evaluator = _Evaluator(self._tree)

    def evaluate(
        self,
        scope: Scope,
        extra: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
    ) -> Any:
        """The expression's value. ``inputs``: filled with each reference's text and
        value, so a block records what it read (SPEC: a block's resolved inputs), also
        when the evaluation fails."""
        names = _Names(self.refs, scope)
        if extra:
            names.update(extra)
        evaluator = self._evaluator
        evaluator.names = names
        try:
            return evaluator.eval(self.source, previously_parsed=self._tree)
        except AttributeDoesNotExist as exc:
            raise ExpressionError(self._no_attribute(exc.attr)) from None
        except InvalidExpression as exc:  # the caller names the expression (`named`)
            message = self._as_written(str(exc))
            if isinstance(exc, IterableTooLong):
                message += _TOO_LONG
            raise ExpressionError(message) from None
        except KeyError as exc:  # Python says only the key: `'k'`
            key = exc.args[0] if exc.args else None
            raise ExpressionFailed("KeyError", self._no_key(key)) from None
        finally:
            if inputs is not None:
                inputs.update(names.recorded(self._texts))

    def _as_written(self, message: str) -> str:
        """``message`` with the names references were bound to (``__ref_0``) turned
        back into the references as written: the user never wrote ``__ref_0``."""
        return _BOUND_NAME.sub(lambda m: self._texts[int(m[1])], message)

    def _no_attribute(self, attr: str) -> str:
        """simpleeval's "Attribute 'k' does not exist in expression '__ref_0.k'" in the
        user's words: what was read, and how a field or a length is written."""
        node = next(
            (n for n in ast.walk(self._tree) if isinstance(n, ast.Attribute) and n.attr == attr),
            None,
        )
        read = self._as_written(ast.unparse(node.value)) if node is not None else "the value"
        if attr in ("length", "size"):
            return f"{read} has no field {attr!r}: a list's or text's length is len({read})"
        return f"{read} has no field {attr!r}{_if_missing(read, attr)}"

    def _no_key(self, key: Any) -> str:
        """A KeyError's message, which is the key alone (`'k'`), with what was read."""
        node = next(
            (
                n
                for n in ast.walk(self._tree)
                if isinstance(n, ast.Subscript)
                and isinstance(n.slice, ast.Constant)
                and n.slice.value == key
            ),
            None,
        )
        read = self._as_written(ast.unparse(node.value)) if node is not None else "the mapping"
        return f"{read} has no key {key!r}{_if_missing(read, key)}"


def _if_missing(read: str, key: Any) -> str:
    """How a field that may be missing is read: ``<a.b.k?>`` is null then."""
    if isinstance(key, str) and key.isidentifier() and re.fullmatch(r"<[^<>]+>", read):
        return f"; for a field that may be missing write <{read[1:-1].rstrip('?')}.{key}?>"
    return f"; for a key that may be missing write .get({key!r})"


class ExpressionFailed(Exception):
    """An expression raised: its error, named as raised (``kind``), with the field
    that holds the expression."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def named(label: str, exc: Exception) -> Exception:
    """``exc`` with its message saying which expression raised it, its type kept:
    ``case 'paid': division by zero``, ``if '<a.n> / <a.d> > 1': division by zero``,
    ``while '<state> + 1': …``. A missing reference stays one (it is not retried:
    engine/executor.py)."""
    if isinstance(exc, MissingReference):
        exc.args = (f"{label}: {exc}",)
        return exc
    kind = getattr(exc, "kind", None) or type(exc).__name__
    return ExpressionFailed(kind, f"{label}: {str(exc) or kind}")
