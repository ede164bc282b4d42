"""The manual trigger: a run started by hand, the CLI or the API with a JSON input."""

from __future__ import annotations

from typing import Any

import jsonschema

from blocks._json_schemas import schema_problem, validation_errors
from engine.context import BlockContext
from engine.model import Problem
from engine.registry import BlockHandler, register
from engine.triggers import NoTriggerChosen, started_by_hand


@register
class ManualTrigger(BlockHandler):
    type = "manual"
    category = "trigger"
    description = "Start a run by hand (editor, CLI, API) with a JSON input."
    config_schema = {
        "input_schema": {"type": "object", "description": "JSON Schema the input must match."}
    }
    raw_keys = frozenset({"input_schema"})
    outputs = ()

    def problems(self) -> list[Problem]:
        schema = self.config.get("input_schema")
        if schema is None or (why := schema_problem(schema)) is None:
            return []
        return [Problem(why, block=self.block.id, field="input_schema")]

    def output_for(self, run_input: Any) -> Any:
        return run_input if isinstance(run_input, dict) else {"value": run_input}

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> Any:
        given = self.output_for(ctx.run.input)
        errors = input_errors(self.config.get("input_schema"), given)
        if errors:
            raise ValueError("input does not match input_schema: " + "; ".join(errors))
        return given


def run_input_problems(workflow: Any, data: Any) -> list[str]:
    """Why ``data`` cannot start ``workflow`` by hand: it does not match the
    ``input_schema`` of the manual trigger a run by hand starts from
    (engine/triggers.py), wherever it is among the trigger blocks (none: it matches,
    or the run does not start from a manual trigger). The API (422) and ``flowyard
    run`` (exit 2) refuse such an input before any run."""
    try:
        trigger = started_by_hand(workflow)
    except NoTriggerChosen:
        return []  # refused as such before any input is looked at (ui/api_runs.py)
    if trigger is None or trigger.type != "manual":
        return []
    try:
        return input_errors(trigger.config.get("input_schema"), data)
    except ValueError as exc:  # validation refuses such a schema; still, never a 500
        return [f"the input_schema cannot be applied: {exc}"]


def input_errors(schema: Any, given: Any) -> list[str]:
    """Why ``given`` does not match ``schema`` (at most five reasons, each naming
    where: ``order_id: 'x' is not of type 'integer'``); empty when it matches.

    The API checks this before it starts a run, so a bad input is a 422, not a run
    that fails a moment later."""
    if schema is None:
        return []
    errors = sorted(validation_errors(schema, given, formats=True), key=str)
    return [_reason(e) for e in errors[:5]]


def _reason(e: jsonschema.ValidationError) -> str:
    message = e.message
    if e.validator == "pattern" and isinstance(e.schema, dict) and e.schema.get("description"):
        # A regular expression says what is wrong to few readers: say what is wanted.
        message = f"{e.instance!r} is not {e.schema['description']}"
    where = ".".join(str(p) for p in e.absolute_path)
    return f"{where}: {message}" if where else message
