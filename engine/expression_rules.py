"""What an expression may be, checked when the workflow loads (so `flowyard
validate` reports it): the functions and methods it may call, the syntax the
evaluator runs, how deep it may nest, and that every name it reads is bound — each
refusal in the user's words (engine/expressions.py evaluates what passes).
"""

from __future__ import annotations

import ast
import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

from simpleeval import DEFAULT_FUNCTIONS, EvalWithCompoundTypes


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


def check_calls(tree: ast.AST, text: str) -> None:
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


def check_syntax(tree: ast.AST, text: str) -> None:
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


def check_names(tree: ast.AST, text: str, defined: frozenset[str]) -> None:
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
            why = other_language(text).removeprefix("; ")
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


def other_language(text: str) -> str:
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
