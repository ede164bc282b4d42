"""Safe expressions for ``if``, ``while`` and ``cases``, evaluated by simpleeval.

References inside an expression are bound as values (``<a.b> == "x"`` becomes
``__ref_0 == "x"``), never pasted as source; inside a string literal a reference
is plain text. Parsed and checked once at load time, so ``flowyard validate``
reports what the evaluator would refuse: a call outside the allow-list, syntax it
cannot run, a name that would be undefined.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

from simpleeval import (
    MAX_COMPREHENSION_LENGTH,
    MAX_STRING_LENGTH,
    AttributeDoesNotExist,
    EvalWithCompoundTypes,
    InvalidExpression,
    IterableTooLong,
)

from engine._json import SURROGATE
from engine.expression_rules import (
    FUNCTIONS,
    MAX_EXPRESSION_DEPTH,
    ExpressionError,
    check_calls,
    check_names,
    check_syntax,
    other_language,
)
from engine.python_refs import rewrite_python
from engine.references import MissingReference, Reference, Scope, resolve

#: JSON Schema of a config value that is an expression. A YAML boolean or number
#: (`while: true`) is one too, meaning what the same text means; null is refused
#: (an empty `if:` is more likely a slip than a wish for "never").
EXPRESSION_SCHEMA: dict[str, Any] = {"type": ["string", "boolean", "number"]}

#: The name a reference is bound to in the expression's source (``__ref_0``).
_BOUND_NAME = re.compile(r"__ref_(\d+)")


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
                hint = other_language(text)
                raise ExpressionError(f"bad expression {text!r}: {exc.msg}{hint}") from None
            except RecursionError:  # too deep for Python's own parser (~1,000 levels)
                raise ExpressionError(
                    f"bad expression {text!r}: nested more than {MAX_EXPRESSION_DEPTH} levels deep"
                ) from None
        else:
            raise ExpressionError(
                f"bad expression {text!r}: an expression is text, true/false or a number"
            )
        check_syntax(self._tree, str(text))
        check_calls(self._tree, str(text))
        self._texts = tuple(ref.text for ref in self.refs)
        refs = {f"__ref_{i}" for i in range(len(self.refs))}
        check_names(self._tree, str(text), frozenset(FUNCTIONS) | refs | frozenset(names))
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
