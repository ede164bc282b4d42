"""Condition: route the run to the ``true``/``false`` port, or to the first matching case."""

from __future__ import annotations

from typing import Any

from engine.context import BlockContext
from engine.expressions import Expression, ExpressionError
from engine.model import Problem
from engine.registry import BlockHandler, Result, register


@register
class Condition(BlockHandler):
    type = "condition"
    category = "logic"
    description = "Take the true/false port, or the port of the first case whose `if` holds."
    config_schema = {
        "if": {
            "type": ["string", "boolean"],
            "description": 'Expression, e.g. <function.event_type> == "paid".',
        },
        "cases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "if"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z0-9_\\-]+$"},
                    "if": {"type": ["string", "boolean"]},
                },
            },
        },
        "else": {
            "type": "string",
            "description": "Port taken when no case matches (default: else).",
        },
    }
    raw_keys = frozenset({"if", "cases"})
    outputs = ("branch", "value")

    def __init__(self, block: Any) -> None:
        super().__init__(block)
        self._errors: list[Problem] = []
        self._if: Expression | None = None
        self._cases: list[tuple[str, Expression]] = []
        try:
            if "if" in self.config:
                self._if = Expression(str(self.config["if"]))
            for case in self.config.get("cases") or []:
                if isinstance(case, dict) and "if" in case:
                    self._cases.append((str(case.get("name")), Expression(str(case["if"]))))
        except ExpressionError as exc:
            field = (
                "if" if self._if is None and "if" in self.config else f"cases.{len(self._cases)}.if"
            )
            self._errors.append(Problem(str(exc), block=block.id, field=field))

    def problems(self) -> list[Problem]:
        problems = list(self._errors)
        if ("if" in self.config) == ("cases" in self.config):
            problems.append(Problem("give either `if` or `cases`", block=self.block.id, field="if"))
        return problems

    def ports(self) -> tuple[str, ...]:
        if self._cases or "cases" in self.config:
            names = [
                str(c.get("name")) for c in self.config.get("cases") or [] if isinstance(c, dict)
            ]
            return (*names, str(self.config.get("else", "else")))
        return ("true", "false")

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> Result:
        if self._if is not None:
            value = self._if.evaluate(ctx.frame)
            port = "true" if value else "false"
            return Result({"branch": port, "value": value}, port=port)
        for name, expr in self._cases:
            value = expr.evaluate(ctx.frame)
            if value:
                return Result({"branch": name, "value": value}, port=name)
        port = str(self.config.get("else", "else"))
        return Result({"branch": port, "value": None}, port=port)
