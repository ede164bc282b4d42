"""The DAG executor: runs a region of blocks concurrently under the activation rule.

Loop and parallel containers are sub-executions: their handlers call
:meth:`Executor.run_body`, which runs the body's region with a child scope, so
nested containers need no extra code (DESIGN.md 2). How a failure stops the
blocks running beside it (and lets an effect under way finish) is engine/stops.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, NamedTuple

from engine import runstore
from engine.activation import Activation, choose_error_port
from engine.context import BlockContext, Frame, RunContext
from engine.credentials import note_read
from engine.graph import TOP, Region
from engine.metrics import Metrics
from engine.recorder import OwnershipLost
from engine.recovery import not_resumable
from engine.references import MissingReference
from engine.region_output import OutputScope, body_chars, body_output, sink_output
from engine.registry import Result
from engine.run_ends import end_left_running
from engine.stops import BlockFailed, Stops, error_dict, is_final, stop_reason

#: `retry_backoff` doubles per retry up to this many times itself (Temporal's default
#: maximum interval): uncapped, `retries: 30` waited years before its last attempt.
MAX_BACKOFF_FACTOR = 100

#: A skipped block's entry in the run result's ``blocks``.
SKIPPED = {"status": "skipped", "attempts": 0, "duration_ms": None, "output": None, "error": None}


def _success(value: Any, ctx: BlockContext, duration: float) -> dict[str, Any]:
    """A handler's return as its ``block_succeeded`` record: output (a dict: another
    value is its ``result``), port, attempts, duration and the inputs it read."""
    if isinstance(value, Result):
        output, port = value.output, value.port
        if value.inputs is not None:
            ctx.inputs = value.inputs
    else:
        output, port = value, "default"
    if not isinstance(output, dict):
        output = {"result": output}
    record = {"output": output, "port": port, "attempts": ctx.attempt, "duration_ms": duration}
    if ctx.inputs:
        record["inputs"] = ctx.inputs
    return record


class BodyResult(NamedTuple):
    """One execution of a container body: its output, and its scope for later lookups;
    ``chars``: its output's characters of JSON when known (engine.region_output)."""

    output: Any
    frame: Frame
    chars: int | None = None


class Executor:
    def __init__(self, run: RunContext, metrics: Metrics | None = None) -> None:
        self.run = run
        self.metrics = metrics
        self.plan = run.plan
        self.top_blocks: dict[str, dict[str, Any]] = {}  # the run result's `blocks`
        self.stops = Stops()  # the stops a failure begins, and what they let finish

    # -- regions ------------------------------------------------------------
    async def execute_region(self, region: Region, frame: Frame, prefix: str = "") -> None:
        activation = Activation(region.incoming, region.outgoing)
        ready: list[str] = list(region.entries)
        running: dict[asyncio.Task[str | None], str] = {}
        top = region.key == TOP
        handlers = self.plan.handlers
        if top:
            ready = await self._skip_other_triggers(ready, activation)
        try:
            while ready or running:
                # Run a lone ready block inline: a chain needs no task per block. One
                # with effects gets a task, so a failure around it lets it finish.
                if len(ready) == 1 and not running and not handlers[ready[0]].side_effects:
                    node = ready.pop()
                    port = await self._run_block(node, frame, prefix)
                    skipped = self._settle(node, port, activation, ready, prefix)
                    if self._after_needed(top):
                        await self._after(node, skipped, top)
                    continue
                for node in ready:
                    running[asyncio.ensure_future(self._run_block(node, frame, prefix))] = node
                ready = []
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    node = running.pop(task)
                    port = task.result()  # raises BlockFailed: the except stops the rest
                    skipped = self._settle(node, port, activation, ready, prefix)
                    if self._after_needed(top):
                        await self._after(node, skipped, top)
        except BaseException as exc:
            if running:
                await self.stops.stop(running, prefix, exc)
            raise

    async def _skip_other_triggers(self, entries: list[str], activation: Activation) -> list[str]:
        """The entry blocks to run: a run starts from one trigger block (the tick's
        schedule, the delivery's webhook: engine/triggers.py), and the workflow's
        other trigger blocks are skipped, with what only they lead to."""
        started = self.run.trigger_block
        if started is None or started not in entries:
            return entries  # no trigger named (a run accepted before): every one runs
        handlers = self.plan.handlers
        others = [n for n in entries if n != started and handlers[n].category == "trigger"]
        ready = [n for n in entries if n not in others]
        for node in others:
            self._record_skip(node, "")
            skipped = self._settle(node, None, activation, ready, "")
            if self._after_needed(True):
                await self._after(node, skipped, True)
        return ready

    def _settle(
        self, node: str, port: str | None, activation: Activation, ready: list[str], prefix: str
    ) -> list[str]:
        """Apply the activation rule for a settled block; record what it skipped."""
        before = len(activation.skipped)
        ready.extend(activation.settle(node, port))
        newly_skipped = activation.skipped[before:]
        for skipped in newly_skipped:
            self._record_skip(skipped, prefix)
        return newly_skipped

    def _record_skip(self, node: str, prefix: str) -> None:
        if prefix + node not in self.run.logged_skips:  # resumed: logged already
            self.run.recorder.add("block_skipped", prefix + node)
        if not prefix:  # a top-level block
            self.top_blocks[node] = dict(SKIPPED)

    def _after_needed(self, top: bool) -> bool:
        # Checked before awaiting _after, so a plain chain creates no extra coroutine.
        return (top and bool(self.plan.transaction_groups)) or self.run.recorder.full

    async def _after(self, node: str, skipped: list[str], top: bool) -> None:
        """What a settled block may need the database for: committing its transaction
        group, and flushing a run log that grew large (bounded memory in big loops)."""
        if top and self.plan.transaction_groups:
            for settled in (node, *skipped):
                await self.run.transactions.settled(settled)
        if self.run.recorder.full:
            await self.run.recorder.flush()

    async def run_body(
        self,
        ctx: BlockContext,
        group: str,
        variables: dict[str, Any],
        label: str,
        step_limit: int | None = None,
    ) -> BodyResult:
        region = self.plan.regions[(ctx.block.id, group)]
        frame = Frame(self.run, ctx.frame, variables, step_limit)
        # One turn of the event loop per iteration. A body of blocks that never
        # suspend (inline Functions, Conditions) otherwise held the loop for the whole
        # container: no periodic flush (live progress), no heartbeat (past
        # STALE_AFTER_S another process takes the run over and runs it again), no
        # timeout or cancel, no other run and no webhook accept until it ended.
        await asyncio.sleep(0)
        await self.execute_region(region, frame, f"{ctx.path}[{label}].")
        return BodyResult(
            body_output(region, frame.outputs),
            frame,
            body_chars(region, frame.outputs, frame.sizes),
        )

    # -- one block ------------------------------------------------------------
    async def _run_block(self, node: str, frame: Frame, prefix: str) -> str | None:
        run = self.run
        path = prefix + node
        top = not prefix
        restored = run.restored.get(path)
        if restored is not None:
            # Kept from before a crash (a success, or a failure `on_error: continue`
            # handled), or carried over by a re-run (recorded when the run was
            # accepted: engine.recovery.carried_events): nothing to record.
            frame.outputs[node] = restored.get("output")
            if top:
                self.top_blocks[node] = {**restored, "duration_ms": restored.get("duration_ms")}
            return restored.get("port") or "default"

        handler = self.plan.handlers[node]
        block = handler.block
        compiled = self.plan.compiled[node]
        recorder = run.recorder
        if handler.side_effects:
            # Checkpoint: what this block's inputs came from is durable before the
            # effect, so a resume repeats it with the same inputs and idempotency key.
            await recorder.flush(checkpoint=True)
        timeout = block.timeout if block.timeout is not None else handler.default_timeout
        if handler.times_itself:
            timeout = None
        attempt = 0
        t0 = time.perf_counter()
        while True:
            attempt += 1
            recorder.started_block(path, attempt)
            ctx = BlockContext(run, block, frame, path, attempt, self)
            try:
                config = compiled.resolve(frame)
                ctx.inputs = config
                if handler.side_effects:
                    self.stops.effects_in_flight.add(path)
                try:
                    if timeout:
                        # Not wait_for: on Python 3.11 it wraps the handler in a task
                        # of its own, a measurable cost for every block with a timeout.
                        async with asyncio.timeout(timeout):
                            value = await handler.run(ctx, config)
                    else:
                        value = await handler.run(ctx, config)
                finally:
                    if handler.side_effects:
                        self.stops.effects_in_flight.discard(path)
                record = _success(value, ctx, (time.perf_counter() - t0) * 1000)
                if node in self.plan.credential_refs:  # before its output is recorded
                    note_read(record["output"], self.plan.credential_refs[node], run.note_secret)
                # Encoded within the attempt: an output the run log cannot hold fails
                # this block, named (on_error applies), not the run outside any block.
                limit = None if handler.side_effects else frame.step_limit
                succeeded, chars = recorder.encoded(
                    "block_succeeded", path, record, limit, measure=frame.parent is not None
                )
                break
            except asyncio.CancelledError:
                self._interrupted(ctx, t0)
                raise
            except Exception as exc:
                error = error_dict(exc, path)
                if isinstance(exc, TimeoutError) and timeout:
                    error["message"] = f"timed out after {timeout:g} s"
                    error = self.stops.stopped_by(path) or error
                # A handler can say another attempt cannot help (a 400 from an API),
                # or how long the peer asked us to wait (Retry-After).
                # A body's failure (BlockFailed) is retried with its container: its
                # `retries` run the whole body again (SPEC: every block accepts them),
                # unless that failure was final (engine.stops.is_final).
                final = is_final(exc, handler.category)
                settled = isinstance(exc, MissingReference) or final
                retriable = not settled
                if retriable and attempt <= block.retries and path not in self.stops.finishing:
                    backoff = block.retry_backoff * min(2 ** (attempt - 1), MAX_BACKOFF_FACTOR)
                    delay = max(backoff, getattr(exc, "retry_after", None) or 0)
                    retrying = {"attempt": attempt, "error": error, "delay_s": delay}
                    recorder.add("block_retrying", path, retrying)
                    try:
                        await asyncio.sleep(delay)
                    except asyncio.CancelledError as stop:  # a sibling's failure: as it stands
                        self._interrupted(ctx, t0, error if stop_reason(stop) else None)
                        raise
                    continue
                duration = (time.perf_counter() - t0) * 1000
                handled = block.on_error == "continue"
                # What a failed Function printed (engine/functions.py): kept beside
                # the error, or its output alone when the failure is not handled.
                printed = getattr(exc, "printed_output", None)
                output = {"error": error, **(printed or {})} if handled else printed
                data = {"error": error, "attempts": attempt, "duration_ms": duration}
                # Null when it read nothing, as a success records it (docs/engine.md).
                data.update(inputs=ctx.inputs or None, handled=handled)
                if handled:  # the stored run shows what the run went on with; a resume reuses it
                    port = choose_error_port(self.plan.region_of(node).outgoing[node])
                    data.update(output=output, port=port)
                elif printed:
                    data.update(output=printed)
                limit = None if handler.side_effects else frame.step_limit
                recorder.add("block_failed", path, data, limit)
                self._settled(ctx, "failed", attempt, duration, output, error)
                if not handled:
                    wait = getattr(exc, "retry_after", None)  # for a container's retries
                    raise BlockFailed(error, final=final, retry_after=wait) from exc
                frame.outputs[node] = output
                return port

        frame.outputs[node] = output = record["output"]
        if chars is not None:
            frame.sizes[node] = chars
        recorder.append(succeeded)
        self._settled(ctx, "succeeded", attempt, record["duration_ms"], output, None)
        if handler.recorded_at_once:
            with contextlib.suppress(Exception):  # kept in the buffer: the next flush retries
                await recorder.flush()
        return record["port"]

    def _interrupted(
        self, ctx: BlockContext, t0: float, error: dict[str, Any] | None = None
    ) -> None:
        """A block stopped mid-attempt (a sibling failed, a container timed out, the run
        was cancelled or its process is shutting down), or between attempts (``error``,
        its last one's: a sibling's failure lets no new attempt begin). Its record must
        still end: a finished run showing a block `running` forever misleads the run
        viewer (SPEC: statuses end). A resume ignores it (it reuses successes only)."""
        interrupted = "interrupted before it finished"
        error = error or {"type": "Cancelled", "message": interrupted, "block": ctx.path}
        duration = (time.perf_counter() - t0) * 1000
        data = {"error": error, "attempts": ctx.attempt, "duration_ms": duration}
        self.run.recorder.add("block_failed", ctx.path, {**data, "inputs": ctx.inputs or None})
        self._settled(ctx, "failed", ctx.attempt, duration, None, error)

    def _settled(
        self, ctx: BlockContext, status: str, attempts: int, took: float, output: Any, error: Any
    ) -> None:
        """Count the block in the metrics and, at the top level, in the run result."""
        if self.metrics is not None:
            self.metrics.block_finished(ctx.block.type, status, took)
        if ctx.path == ctx.block.id:  # a top-level block
            record = {"status": status, "attempts": attempts, "duration_ms": took}
            self.top_blocks[ctx.block.id] = {**record, "output": output, "error": error}

    # -- the whole run ----------------------------------------------------------
    async def execute(self) -> tuple[str, Any, dict[str, Any] | None]:
        """Run the workflow; return (status, output, error). Never raises for block errors."""
        run = self.run
        frame = Frame(run)
        self.stops.record_here()
        stuck = not_resumable(run.restored)
        if stuck:
            return await self._not_resumable(stuck)
        try:
            await self.execute_region(self.plan.top, frame)
            output = (
                self.plan.output.resolve(OutputScope(frame, self.top_blocks))
                if self.plan.output is not None
                else sink_output(self.plan.top, frame.outputs)
            )
            await run.transactions.commit_all()
            return "succeeded", output, None
        except BlockFailed as exc:
            await self._roll_back()
            return "failed", None, exc.error
        except (asyncio.CancelledError, OwnershipLost):
            await asyncio.shield(self._roll_back())
            raise
        except Exception as exc:  # `output:`'s MissingReference, GroupNotCommitted, an engine bug
            await self._roll_back()
            return "failed", None, {"type": type(exc).__name__, "message": str(exc), "block": None}

    async def _not_resumable(
        self, stuck: list[tuple[str, dict[str, Any]]]
    ) -> tuple[str, Any, dict[str, Any]]:
        """Fail, before anything runs, a run that cannot go past a block: it completed
        before, its record lost its output, and running it again would apply its effect
        twice (engine.recovery.not_resumable). Each such block is recorded failed, with
        what it was given and what is left of its output, for whoever checks its effect;
        a block the stopped process left running is recorded interrupted, as a run
        cancelled while away is (no finished run shows a block running)."""
        events = await runstore.fetch_events(self.run.recorder.pool, self.run.execution_id)
        for path, ended in end_left_running(self.run.recorder, events).items():
            if "[" not in path and "." not in path:  # the run result's top-level blocks
                self.top_blocks[path] = ended
        for node, rec in self.run.restored.items():
            if "[" not in node and "." not in node:  # the run result's top-level blocks
                self.top_blocks[node] = {**rec, "duration_ms": rec.get("duration_ms")}
        for path, error in stuck:
            rec = self.run.restored[path]
            kept = {k: rec[k] for k in ("attempts", "duration_ms", "inputs", "output") if k in rec}
            self.run.recorder.add("block_failed", path, {"error": error, **kept})
            if path in self.top_blocks:
                self.top_blocks[path].update(status="failed", error=error)
        return "failed", None, stuck[0][1]

    async def _roll_back(self) -> None:
        """Roll back the run's open transaction groups. Their members' records would
        still say `succeeded`, so the log names the blocks whose writes went with each
        group (`transaction_rolled_back`), and so does the run's result."""
        for group, paths in await self.run.transactions.rollback_all():
            self.run.recorder.add(
                "transaction_rolled_back", None, {"group": group, "blocks": paths}
            )
            for path in paths:
                if path in self.top_blocks:
                    self.top_blocks[path]["rolled_back"] = True
