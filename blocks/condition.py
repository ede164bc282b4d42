"""Condition: route the run to the ``true``/``false`` port, or to the first matching case."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from engine._function_values import OutputNotJSON, encode_output, first_not_json
from engine.context import BlockContext
from engine.expressions import EXPRESSION_SCHEMA, Expression, ExpressionError, named
from engine.model import Problem
from engine.registry import BlockHandler, Result, register
from engine.schema import one_of_keys

#: What an edge can name as a port (engine.model.EDGE_RE: `route.<port> -> next`).
PORT_NAME = r"^[A-Za-z0-9_\-]+$"
_PORT_NAME = re.compile(r"[A-Za-z0-9_\-]+")


@register
class Condition(BlockHandler):
    type = "condition"
    category = "logic"
    description = "Take the true/false port, or the port of the first case whose `if` holds."
    config_schema = {
        "if": {
            **EXPRESSION_SCHEMA,
            "description": 'Expression, e.g. <function.event_type> == "paid".',
        },
        "cases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "if"],
                "additionalProperties": False,
                "properties": {"name": {"type": "string"}, "if": EXPRESSION_SCHEMA},
            },
        },
        "else": {
            "type": "string",
            "description": "Port taken when no case matches (default: else); with cases only.",
        },
    }
    raw_keys = frozenset({"if", "cases"})
    schema_rules = (
        one_of_keys("if", "cases"),
        # Port names an edge can write (problems() says it in words). `$` lets a
        # trailing newline through in Python: problems() refuses it all the same.
        {
            "properties": {
                "cases": {"minItems": 1, "items": {"properties": {"name": {"pattern": PORT_NAME}}}},
                "else": {"pattern": PORT_NAME},
            }
        },
        # `else` is a case port: with `if`, the ports are true and false.
        {"if": {"required": ["if"]}, "then": {"not": {"required": ["else"]}}},
    )
    outputs = ("branch", "value")

    def __init__(self, block: Any) -> None:
        super().__init__(block)
        self._errors: list[Problem] = []
        #: Each compiled expression by its field (`if`, `cases.0.if`).
        self.expressions: dict[str, Expression] = {}
        self._if: Expression | None = None
        self._cases: list[tuple[str, Expression]] = []
        if "if" in self.config:
            self._if = self._compile(self.config["if"], "if")
        cases = self.config.get("cases")
        for i, case in enumerate(cases if isinstance(cases, list) else []):
            if isinstance(case, dict) and "if" in case:
                expr = self._compile(case["if"], f"cases.{i}.if")
                if expr is not None:
                    self._cases.append((str(case.get("name")), expr))

    def _compile(self, value: Any, field: str) -> Expression | None:
        """The expression of one field, or None with its problem noted (a value of
        the wrong type is left to the JSON Schema's message)."""
        if not isinstance(value, (str, bool, int, float)):
            return None
        try:
            expr = self.expressions[field] = Expression(value)
        except ExpressionError as exc:
            self._errors.append(Problem(str(exc), block=self.block.id, field=field))
            return None
        return expr

    def problems(self) -> list[Problem]:
        problems = list(self._errors)
        if ("if" in self.config) == ("cases" in self.config):
            problems.append(Problem("give either `if` or `cases`", block=self.block.id, field="if"))
        elif "else" in self.config and "cases" not in self.config:  # it has `if`
            why = (
                "`else` names the port taken when no case matches, and `if` has no cases:"
                " its ports are `true` and `false`; take `else` out, or write `cases`"
            )
            problems.append(Problem(why, block=self.block.id, field="else"))
        elif self.config.get("cases") == []:  # every run would take `else`
            problems.append(
                Problem("`cases` needs at least one case", block=self.block.id, field="cases")
            )
        elif isinstance(self.config.get("cases"), list):  # another type: the schema says so
            problems += self._port_name_problems()
        return problems

    def _port_name_problems(self) -> list[Problem]:
        """Each case's port once, none of them `error` (the port a failed block takes),
        each a name an edge can write (`route.<port> -> next`)."""
        seen: set[str] = set()
        cases = self.config["cases"]  # a list: problems() looked
        named = [
            (f"cases.{i}.name", c.get("name")) for i, c in enumerate(cases) if isinstance(c, dict)
        ]
        named.append(("else", self.config.get("else", "else")))
        found = []
        for field, name in named:
            if not isinstance(name, str):
                continue  # missing or not text: the schema says so
            if not _PORT_NAME.fullmatch(name):
                # Accepted, no edge could leave the port: a run taking it went nowhere.
                why = (
                    f"port name {name!r} can only be letters, digits, '_' and '-':"
                    f" an edge `{self.block.id}.<port> -> …` could not name it"
                )
                found.append(Problem(why, block=self.block.id, field=field))
            elif name == "error":
                why = "`error` is the port a failed block takes (on_error: continue)"
                found.append(
                    Problem(f"{why}; name the case otherwise", block=self.block.id, field=field)
                )
            elif name in seen:
                why = f"two ports named {name!r}: the second could never be told apart"
                found.append(Problem(why, block=self.block.id, field=field))
            seen.add(name)
        return found

    def ports(self) -> tuple[str, ...]:
        if self._cases or "cases" in self.config:
            cases = self.config.get("cases")
            cases = cases if isinstance(cases, list) else []  # a bad value: said by problems()
            names = [str(c.get("name")) for c in cases if isinstance(c, dict)]
            return (*names, str(self.config.get("else", "else")))
        return ("true", "false")

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> Result:
        # Its inputs are what its expressions read, as a Function's are: a failed
        # `<start.n> > 5` then shows the value that failed it. Secrets are redacted.
        inputs: dict[str, Any] = {}
        ctx.inputs = inputs
        if self._if is not None:
            try:
                value = _json_value(self._if.evaluate(ctx.frame, inputs=inputs))
            except Exception as exc:
                raise named(f"if {self._if.text!r}", exc) from exc
            port = "true" if value else "false"
            return Result({"branch": port, "value": value}, port=port)
        for name, expr in self._cases:  # the cases evaluated: up to the one taken
            try:
                value = expr.evaluate(ctx.frame, inputs=inputs)
                if value:
                    value = _json_value(value)
            except Exception as exc:
                raise named(f"case {name!r}", exc) from exc
            if value:
                return Result({"branch": name, "value": value}, port=name)
        port = str(self.config.get("else", "else"))
        return Result({"branch": port, "value": None}, port=port)


class ValueNotJSON(Exception):
    """An expression's value has no JSON form, so it cannot be the block's ``value``
    output; ``kind`` is the exception type the block's error names."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: What an expression's value of these kinds can be turned into instead: the
#: functions an expression may call (engine.expression_rules.FUNCTIONS).
_AS_LIST = (set, frozenset, type({}.keys()), type({}.values()), type({}.items()))


def _json_value(value: Any) -> Any:
    """``value`` as the block's output holds it: JSON, as a Function's output is
    (engine._function_values: a tuple becomes a list, keys text) — for the caller
    who waited for the run as in its record. A value JSON has no form for (NaN,
    ±Infinity, a set, a dict view, a function not called) is refused, saying what it
    is, rather than recorded as null or as Python's text of it."""
    if value is None or isinstance(value, (str, bool, int)):
        return value  # most values: nothing to look at
    if isinstance(value, float) and math.isfinite(value):
        return value
    try:
        return json.loads(encode_output(value))
    except OutputNotJSON as exc:
        found = first_not_json(value)
        if found is None:  # not expected: the encoder's own words then
            raise ValueNotJSON(exc.kind, str(exc)) from None
        place = f"field {found.where} of its value" if found.where else "its value"
        bad = _at(value, found.where)
        hint = "; list(…) makes a list of it" if isinstance(bad, _AS_LIST) else ""
        message = f"{place} {found.what}: the block's `value` output must be JSON{hint}"
        raise ValueNotJSON(found.kind, message) from None


def _at(value: Any, where: str) -> Any:
    """The value at a path first_not_json gave (keys and list indexes as text)."""
    for step in where.split(".") if where else ():
        if isinstance(value, dict):
            value = next((v for k, v in value.items() if str(k) == step), None)
        elif isinstance(value, (list, tuple)) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
    return value
