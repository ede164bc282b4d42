"""Loop: run the body once per item (forEach), ``count`` times, or ``while`` an
expression holds, optionally folding a ``state`` through the iterations.

Each iteration is a sub-execution of the body's blocks (DESIGN.md 2). Only what
``results`` and ``state`` need is kept, so memory stays flat for big loops.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from blocks._collected import Collected
from blocks._items import items_to_run, one_reference_fields, written_items_problem
from engine.context import BlockContext, Frame
from engine.expressions import EXPRESSION_SCHEMA, Expression, ExpressionError, named
from engine.model import Problem
from engine.references import Skipped, compile_value, is_one_reference, loop_variables, parse
from engine.registry import BlockHandler, ContainerBody, block_ids, register
from engine.schema import one_of_keys
from engine.validate_keys import one_body_reference

DEFAULT_MAX_ITERATIONS = 10_000

#: What the event of a step of a fold (a loop with ``accumulate``) keeps at most, in
#: characters of JSON: the state is in each step's record twice (read and returned),
#: so a state that grows with the steps made a run log growing with their square
#: (engine.context, ``Frame.step_limit``). An order's state is a few KB.
FOLD_STEP_CHARS = 64 * 1024


_ADVICE = (
    "set `collect: false` when only `state` is needed (a fold keeps that alone), or"
    " return less from the body's last block (each iteration's output is kept)"
)


@register
class Loop(BlockHandler):
    type = "loop"
    category = "container"
    description = (
        "Run the body blocks for each item, a count of times, or while an expression holds."
    )
    config_schema = {
        "items": {"description": "A list (usually a reference) to iterate over."},
        "as": {
            "type": "string",
            "pattern": "^[a-z_][a-z0-9_]*$",
            "description": "Name of the loop variable (default item).",
        },
        "count": {"type": ["integer", "string"], "description": "Run the body this many times."},
        "while": {**EXPRESSION_SCHEMA, "description": "Expression checked before each iteration."},
        "body": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Block ids inside the loop.",
        },
        "accumulate": {
            "type": "object",
            "required": ["next"],
            "additionalProperties": False,
            "properties": {
                "initial": {"description": "The first <state>."},
                "next": {
                    "type": "string",
                    "description": "Reference inside the body: the next <state>.",
                },
            },
        },
        "max_iterations": {"type": "integer", "minimum": 1},
        "collect": {
            "type": "boolean",
            "description": "Keep each iteration's output in `results` (default true); a fold "
            "that only needs `state` sets false to keep memory flat.",
        },
    }
    required = ("body",)
    raw_keys = frozenset({"body", "while", "accumulate"})
    schema_rules = (
        one_of_keys("items", "count", "while"),
        {
            "properties": {
                "body": {"minItems": 1},
                "count": {"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}]},
            }
        },
    )
    outputs = ("results", "state", "iterations")

    def __init__(self, block: Any) -> None:
        super().__init__(block)
        self.config = one_reference_fields(self.config, ("items", "count"))
        self.var = str(self.config.get("as") or "item")
        self._while: Expression | None = None
        self._error: Problem | None = None
        #: The compiled `while`, by field, for validation.
        self.expressions: dict[str, Expression] = {}
        # A `while` of the wrong type (null, a list) is left to the JSON Schema's message.
        if isinstance(self.config.get("while"), (str, bool, int, float)):
            try:
                self._while = self.expressions["while"] = Expression(self.config["while"])
            except ExpressionError as exc:
                self._error = Problem(str(exc), block=block.id, field="while")
        acc = self.config.get("accumulate") or {}
        self._initial = compile_value(acc.get("initial"))
        nxt = acc.get("next")
        # Stripped, as validation reads it (one reference): " <add.state>" compiled
        # as text made the state the JSON text of the value.
        written = nxt.strip() if isinstance(nxt, str) else nxt
        self._next = compile_value(written) if nxt is not None else None

    def body(self) -> ContainerBody:
        return ContainerBody({"body": block_ids(self.config.get("body"))})

    def problems(self) -> list[Problem]:
        problems = [self._error] if self._error else []
        modes = [k for k in ("items", "count", "while") if k in self.config]
        if len(modes) != 1:
            problems.append(
                Problem(
                    "give exactly one of `items`, `count` or `while`",
                    block=self.block.id,
                    field="items",
                )
            )
        if not self.config.get("body"):
            problems.append(
                Problem(
                    "a loop needs at least one block in `body`", block=self.block.id, field="body"
                )
            )
        if "items" in self.config and (why := written_items_problem(self.config["items"])):
            problems.append(Problem(why, block=self.block.id, field="items"))
        count = self.config.get("count")
        if (isinstance(count, int) and count < 0) or (
            isinstance(count, str) and not is_one_reference(count)
        ):
            message = f"`count` is a number of times (0 or more) or one reference, not {count!r}"
            problems.append(Problem(message, block=self.block.id, field="count"))
        if self._while is not None:
            inside = set(block_ids(self.config.get("body")))
            for _, _, ref in parse(str(self.config["while"])):
                if ref.root in inside:
                    message = (
                        f"{ref.text}: `while` is checked before each iteration, where the "
                        "body's blocks have no value yet; carry the value in `accumulate` "
                        "(next: <body_block.field>) and test <state>"
                    )
                    problems.append(Problem(message, block=self.block.id, field="while"))
        nxt = (self.config.get("accumulate") or {}).get("next")
        if isinstance(nxt, str) and not is_one_reference(nxt):
            said = one_body_reference(self.config.get("body"))
            message = f"`accumulate.next` is {said}, not {nxt!r}"
            problems.append(Problem(message, block=self.block.id, field="accumulate"))
        elif isinstance(nxt, str):
            [(_, _, ref)] = parse(nxt.strip())
            inside = {*block_ids(self.config.get("body")), self.var, "state", "loop"}
            if ref.root not in inside:
                # The same value every iteration: a fold that folds nothing.
                said = one_body_reference(self.config.get("body"))
                message = f"`accumulate.next` is {said}; {ref.text} is outside it"
                problems.append(Problem(message, block=self.block.id, field="accumulate"))
        return problems

    def _known_count(self, config: dict[str, Any]) -> int | None:
        """How many iterations `items` or `count` make, when known up front (None for
        `while`; a `while` beside them may stop earlier, so then it is not counted)."""
        if self._while is not None:
            return None
        if "items" in self.config and isinstance(config.get("items"), (list, tuple, dict)):
            return len(config["items"])
        if "count" in self.config:
            return config["count"]
        return None

    def _count(self, value: Any) -> int:
        """`count` as resolved: a whole number from 0 (3.0 counts as 3, and text of
        digits such as a query parameter's "3"). Anything else fails the loop saying
        so, rather than int()'s words (null), or cutting 2.5 to 2 and true to 1."""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        shown = (
            json.dumps(value)
            if isinstance(value, (str, int, float, bool, type(None)))
            else (f"a {type(value).__name__}")
        )
        raise ValueError(
            f"loop `count` must be a whole number of times, 0 or more: "
            f"{self.config['count']} is {shown}"
        )

    def _iterations(self, config: dict[str, Any]) -> Iterator[Any]:
        if "items" in self.config:
            yield from items_to_run(config.get("items"), "loop")
        elif "count" in self.config:
            yield from range(config["count"])
        else:
            i = 0
            while True:
                yield i
                i += 1

    def _holds(self, ctx: BlockContext, variables: dict[str, Any]) -> bool:
        """Whether `while` holds before this iteration; an error names the expression."""
        assert self._while is not None
        try:
            return bool(
                self._while.evaluate(Frame(ctx.run, ctx.frame, variables), inputs=ctx.inputs)
            )
        except Exception as exc:
            raise named(f"while {self._while.text!r}", exc) from exc

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        limit = int(config.get("max_iterations") or DEFAULT_MAX_ITERATIONS)
        if "count" in self.config:
            config = {**config, "count": self._count(config.get("count"))}
        state = self._initial.resolve(ctx.frame)
        collect = config.get("collect", True) is not False
        known = self._known_count(config)
        if known is not None and known > limit:
            # Known before the first iteration: refused before any of it has run (the
            # body's effects included), not after `limit` iterations of it.
            raise RuntimeError(
                f"the loop would run {known} times, over max_iterations={limit};"
                " raise max_iterations or split the input"
            )
        if self._while is not None:
            # Its inputs gain what `while` read at its last check: the one that ended
            # the loop, or that failed (references bound to the body change each time).
            ctx.inputs = dict(ctx.inputs)
        results: list[Any] = []
        collected = Collected("loop", "iterations", _ADVICE)
        iterations = 0
        step_limit = FOLD_STEP_CHARS if self._next is not None else None
        for index, item in enumerate(self._iterations(config)):
            variables = {
                self.var: item,
                "loop": loop_variables(index),
                "state": state,
            }
            if self._while is not None and not self._holds(ctx, variables):
                break
            if index >= limit:
                raise RuntimeError(f"loop stopped after max_iterations={limit}")
            body = await ctx.run_body("body", variables, str(index), step_limit)
            iterations += 1
            if collect:
                collected.add(body.output, body.chars)  # raises past what a record keeps
                results.append(body.output)
            if self._next is not None:
                state = self._next_state(body.frame, state)
        return {"results": results, "state": state, "iterations": iterations}

    def _next_state(self, frame: Frame, state: Any) -> Any:
        """The state after an iteration: `next`'s value, or the state unchanged when
        the block `next` names was skipped (a condition in the body routed around the
        step), as a reducer ignoring an event returns its accumulator. That failed the
        loop, and `?` made the state null for the next iteration."""
        ref = getattr(self._next, "ref", None)
        if ref is not None:
            try:
                frame.lookup(ref.root)
            except Skipped:
                return state
            except KeyError:
                pass  # resolve() says what is missing
        return self._next.resolve(frame)
