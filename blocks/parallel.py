"""Parallel: different work side by side (``branches``) or the same work over a
collection (``items`` + ``body``), each a sub-execution, under ``max_concurrency``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from blocks._collected import Collected
from blocks._items import items_to_run, one_reference_fields, written_items_problem
from engine.context import BlockContext
from engine.model import Problem
from engine.references import loop_variables
from engine.registry import BlockHandler, ContainerBody, block_ids, register
from engine.schema import one_of_keys
from engine.stops import BlockFailed, error_dict, stop_reason, wait_out


@register
class Parallel(BlockHandler):
    type = "parallel"
    category = "container"
    description = "Run named branches side by side, or the body once per item, concurrently."
    config_schema = {
        "branches": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Branch name → block ids.",
        },
        "items": {"description": "A list to run the body over."},
        "as": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
        "body": {"type": "array", "items": {"type": "string"}},
        "max_concurrency": {"type": "integer", "minimum": 1},
    }
    raw_keys = frozenset({"branches", "body"})

    def __init__(self, block: Any) -> None:
        super().__init__(block)
        self.config = one_reference_fields(self.config, ("items",))

    outputs = ("results", "errors")
    schema_rules = (
        one_of_keys("branches", "items"),
        {
            "properties": {
                "body": {"minItems": 1},
                "branches": {
                    "minProperties": 1,
                    "additionalProperties": {"minItems": 1},
                    "propertyNames": {"pattern": "^[^\\[\\]]+$"},
                },
            }
        },
        # `items` with `body`; `branches` alone, with no item to name `as`.
        {"if": {"required": ["items"]}, "then": {"required": ["body"]}},
        {
            "if": {"required": ["branches"]},
            "then": {"not": {"anyOf": [{"required": ["body"]}, {"required": ["as"]}]}},
        },
    )

    def body(self) -> ContainerBody:
        if "branches" in self.config:
            branches = self.config.get("branches")
            if not isinstance(branches, dict):
                return ContainerBody({})  # the wrong type is reported by the JSON Schema
            return ContainerBody({str(k): block_ids(v) for k, v in branches.items()})
        return ContainerBody({"body": block_ids(self.config.get("body"))})

    def problems(self) -> list[Problem]:
        # Every problem, not the first: each is said whatever the others are.
        found = []
        neither_or_both = ("branches" in self.config) == (
            "items" in self.config or "body" in self.config
        )
        if neither_or_both:
            message = "give either `branches`, or `items` with `body`"
            found.append(Problem(message, block=self.block.id, field="branches"))
        elif "body" in self.config and "items" not in self.config:
            found.append(Problem("`body` needs `items`", block=self.block.id, field="items"))
        if "branches" in self.config and "as" in self.config:
            # Each branch runs once: there is no item to name (nor <loop.index>).
            message = (
                "`as` names the item of a parallel over `items`; a parallel with "
                "`branches` runs each branch once, with no item: remove `as`"
            )
            found.append(Problem(message, block=self.block.id, field="as"))
        # As for a loop: an empty body or branch is a mistake, not work to skip.
        if "branches" in self.config and not self.config["branches"]:
            message = "a parallel needs at least one branch in `branches`"
            found.append(Problem(message, block=self.block.id, field="branches"))
        branches = self.config.get("branches")
        for name in branches if isinstance(branches, dict) else ():
            if not name or "[" in str(name) or "]" in str(name):
                # Its blocks are recorded as `p[<branch>].x`: the run viewer (and anyone
                # reading the paths) could not tell such a branch from the path.
                message = f"branch name {name!r} cannot be empty or hold '[' or ']'"
                found.append(Problem(message, block=self.block.id, field=f"branches.{name}"))
        if "items" in self.config and (why := written_items_problem(self.config["items"])):
            found.append(Problem(why, block=self.block.id, field="items"))
        if not neither_or_both:  # else which groups it has is what is in question
            found += self._empty_group_problems()
        return found

    def _empty_group_problems(self) -> list[Problem]:
        """An empty `body`, or each branch with no blocks."""
        return [
            Problem(
                "a parallel needs at least one block in `body`"
                if name == "body"
                else f"branch {name!r} has no blocks",
                block=self.block.id,
                field="body" if name == "body" else f"branches.{name}",
            )
            for name, members in self.body().groups.items()
            if not members
        ]

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        width = int(config.get("max_concurrency") or 64)
        tolerate = self.block.on_error == "continue"
        var = str(self.config.get("as") or "item")

        helps: list[bool] = []  # per failure collected: whether another attempt may help
        branches = "branches" in self.config
        collected = Collected("parallel", *(_BRANCHES if branches else _ITEMS))
        waits: list[float] = [0.0]  # and how long its peer asked to be left alone

        async def one(group: str, label: str, variables: dict[str, Any]) -> tuple[Any, Any]:
            try:
                body = await ctx.run_body(group, variables, label)
                # Outside the failures `on_error: continue` collects: past what a
                # record keeps, the whole parallel stops (its siblings too).
            except Exception as exc:
                if not tolerate:
                    raise
                waits.append(getattr(exc, "retry_after", None) or 0.0)
                if isinstance(exc, BlockFailed):
                    helps.append(not exc.final)
                    return None, exc.error
                helps.append(getattr(exc, "retriable", True) is not False)
                return None, error_dict(exc, f"{ctx.path}[{label}]")
            collected.add(body.output, body.chars, group if branches else None)
            return body.output, None

        if branches:
            names = list(self.body().groups)
            outcomes = await _gather(ctx.path, width, [(one, (n, n, {})) for n in names])
            results = {n: out for n, (out, _) in zip(names, outcomes, strict=True)}
            errors = {
                n: err for n, (_, err) in zip(names, outcomes, strict=True) if err is not None
            }
        else:
            items = items_to_run(config.get("items"), "parallel")
            outcomes = await _gather(
                ctx.path,
                width,
                (
                    (one, ("body", str(i), {var: item, "loop": loop_variables(i)}))
                    for i, item in enumerate(items)
                ),
                len(items),
            )
            results = [out for out, _ in outcomes]
            errors = [{"index": i, **err} for i, (_, err) in enumerate(outcomes) if err is not None]
        failed = [err for _, err in outcomes if err is not None]
        if any(helps) and ctx.attempt <= self.block.retries:
            # `retries` run the body again before `on_error: continue` collects what
            # still fails, as for any block with both (docs/engine.md, "Timeouts and
            # retries"): tolerating at once made a parallel's retries do nothing. Not
            # for failures another attempt cannot help (engine.executor._final).
            raise BlockFailed(failed[0], retry_after=max(waits))
        return {"results": results, "errors": errors}


_ITEMS = (
    "items",
    "return less from the body's last block (each item's output is kept), or go"
    " through the items in a loop with `collect: false` that folds what is needed"
    " into its `state`",
)
_BRANCHES = ("branches", "return less from each branch's last block (its output is kept)")


async def _gather(
    path: str, width: int, calls: Iterable[tuple[Any, tuple[Any, ...]]], count: int | None = None
) -> list[Any]:
    """Each ``(function, args)`` of ``calls`` awaited, at most ``width`` at once, their
    results in order. ``width`` tasks take the calls in turn as they come: a task (and
    its coroutine) per call, created up front, held ~1 KB each for a parallel's whole
    run — a million items were a million tasks waiting on a semaphore. A failure stops
    the siblings instead of leaving them running (saying why: their blocks with
    effects outside the run finish first, as in any region where a block failed;
    engine.stops.wait_out)."""
    calls = list(calls) if count is None else calls
    count = len(calls) if count is None else count
    results: list[Any] = [None] * count
    queue = enumerate(calls)

    async def take_turns() -> None:
        for index, (function, args) in queue:
            results[index] = await function(*args)

    tasks = [asyncio.ensure_future(take_turns()) for _ in range(min(width, count))]
    try:
        await asyncio.gather(*tasks)
    except BaseException as exc:
        reason = stop_reason(exc)
        for t in tasks:
            t.cancel(reason)
        await wait_out(tasks, exc, f"{path}[")
        raise
    return results
