"""Safe expressions for ``if``, ``while`` and ``cases``, evaluated by simpleeval.

References inside an expression are bound as values (``<a.b> == "x"`` becomes
``__ref_0 == "x"``), never pasted as source. Parsed once at load time.
"""

from __future__ import annotations

import ast
from typing import Any

from simpleeval import DEFAULT_FUNCTIONS, EvalWithCompoundTypes, InvalidExpression

from engine.references import Scope, resolve, rewrite_code

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


class Expression:
    """A compiled expression: source with references turned into names."""

    __slots__ = ("text", "source", "refs", "_tree", "_evaluator")

    def __init__(self, text: str, known_roots: Any = None) -> None:
        self.text = text
        self.source, self.refs = rewrite_code(str(text), known_roots)
        try:
            self._tree = ast.parse(self.source.strip(), mode="eval").body
        except SyntaxError as exc:
            raise ExpressionError(f"bad expression {text!r}: {exc.msg}") from None
        _check_calls(self._tree, text)
        # Building an evaluator costs more than evaluating: keep one, swap its names.
        # Safe because evaluation is synchronous on the event loop's thread.
        self._evaluator = EvalWithCompoundTypes(names={}, functions=FUNCTIONS)

    def evaluate(self, scope: Scope, extra: dict[str, Any] | None = None) -> Any:
        names = {f"__ref_{i}": resolve(ref, scope) for i, ref in enumerate(self.refs)}
        if extra:
            names.update(extra)
        evaluator = self._evaluator
        evaluator.names = names
        try:
            return evaluator.eval(self.source, previously_parsed=self._tree)
        except InvalidExpression as exc:
            raise ExpressionError(f"expression {self.text!r}: {exc}") from None
