"""Executing a run in this process, from its first step to its recorded end.

A started run, a resumed one and one claimed from a queue or an engine process's
handoff all execute here: the run's recorder, its transaction groups and the
executor are set up, the end (succeeded, failed or cancelled; none when the process
is shutting down or another took the run over) is recorded, and the caller gets
the result as it was stored.

A mixin of :class:`engine.runtime.Runtime`, kept apart so the facade stays short.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from engine import runstore
from engine._json import as_recorded
from engine._version_shapes import top_order
from engine.cancels import cancelled_error
from engine.context import RunContext, Services
from engine.credentials import input_credentials
from engine.executor import Executor
from engine.inflight import InFlight
from engine.metrics import Metrics
from engine.model import Workflow
from engine.recorder import OwnershipLost, RunRecorder
from engine.redaction import secrets_of
from engine.runstore import UNSTARTED_RESULT
from engine.transactions import Transactions

log = logging.getLogger("flowyard.runtime")


class RunExecution:
    # Set by Runtime (engine/runtime.py); _or_continued_later is engine/resumption.py's.
    db: Any
    owner: str
    notify_finish: bool
    services: Services
    metrics: Metrics
    _closing: bool
    _runs: InFlight
    _stored_end: Callable[..., Awaitable[dict[str, Any]]]
    _or_continued_later: Callable[..., Awaitable[dict[str, Any]]]

    def _spawn(
        self,
        eid: str,
        workflow: Workflow,
        input: dict[str, Any] | None,  # None: read from the run's row when it starts
        restored: dict[str, dict[str, Any]] | None = None,
        next_seq: int = 2,
        key: str | None = None,
        started_at: float | None = None,
        rerun_of: str | None = None,
        trigger_block: str | None = None,
        skipped: frozenset[str] = frozenset(),
        key_of: str | None = None,
    ) -> asyncio.Task[dict[str, Any]]:
        args: list[Any] = [eid, workflow, input, restored, next_seq, started_at, rerun_of]
        args += [trigger_block, skipped, key_of]
        if self._runs.slot_wait():
            # Not held while it waits for a slot (FLOWYARD_MAX_ACTIVE_RUNS): read back
            # when its turn comes. 1,500 deliveries of 500 KB waiting behind 8 slots
            # held 2.2 GB, and memory grew with every delivery the backlog took.
            args[2] = None

        def run() -> Awaitable[dict[str, Any]]:
            # Made when the run's turn comes (InFlight.spawn): none is left unawaited.
            return self._or_continued_later(eid, self._execute_stored(*args))

        return self._runs.spawn(eid, run, key)

    async def _execute_stored(
        self, eid: str, workflow: Workflow, input: dict[str, Any] | None, *rest: Any
    ) -> Any:
        """``_execute``; with no ``input`` (None), the one the run was accepted with,
        read from its row (a run that waited for a slot, or was claimed to resume)."""
        if input is None:
            input = await self.db.log_pool.fetchval(
                "SELECT COALESCE(unredacted_input, input) FROM flowyard_runs"
                " WHERE execution_id = $1::uuid",
                eid,
            )
        return await self._execute(eid, workflow, {} if input is None else input, *rest)

    async def _execute(
        self,
        eid: str,
        workflow: Workflow,
        input: dict[str, Any],
        restored: dict[str, dict[str, Any]] | None,
        next_seq: int,
        started_at: float | None = None,  # a resumed run's first start
        rerun_of: str | None = None,  # the run a re-run repeats (flowyard_runs.rerun_of)
        trigger_block: str | None = None,  # where it starts (flowyard_runs.trigger_block)
        skipped: frozenset[str] = frozenset(),  # a resumed run's: skips its log holds
        key_of: str | None = None,  # a re-run from the failed block's: engine.recovery.key_base
    ) -> dict[str, Any]:
        plan = workflow.plan
        # Every secret its blocks name, known from the first event on: a value that
        # reaches the run before the block reading it runs (a webhook body's token a
        # later condition checks) is redacted too. Blocks add what they read besides.
        secrets = secrets_of(plan.env_names)
        secrets |= input_credentials(plan.credential_refs, plan.handlers, input)
        recorder = RunRecorder(
            self.db.log_pool, eid, secrets, self.owner, next_seq, self.notify_finish, started_at
        )

        async def commit_group(
            group: str, conn: Any, commit: Callable[[], Awaitable[None]]
        ) -> None:
            await recorder.commit_in(conn, commit, "transaction_committed", {"group": group})

        transactions = Transactions(self.db.pool, plan.transaction_groups, commit_group)
        run = RunContext(eid, plan, input, self.services, recorder, transactions, restored)
        run.rerun_of = rerun_of
        run.key_base = key_of or run.key_base
        run.trigger_block = trigger_block
        run.logged_skips = skipped
        run.secrets = secrets
        recorder.started()
        executor = Executor(run, self.metrics)
        self._runs.recorders[eid] = recorder
        try:
            try:
                status, output, error = await executor.execute()
            except asyncio.CancelledError:
                if recorder.lost:  # the heartbeat found the run taken over
                    raise OwnershipLost(eid) from None
                if self._closing:
                    # Shutting down is not cancelling: the run stays unfinished (its
                    # transactions rolled back) and the next start resumes it.
                    await asyncio.shield(recorder.flush())
                    raise
                status, output, error = "cancelled", None, cancelled_error()
            finally:
                self._runs.recorders.pop(eid, None)
            recorder.add(f"run_{status}", None, {"output": output, "error": error})
            # The end as stored (a resumed run keeps its first start; one the database
            # refused to record in part ended failed): one run, one record.
            end = await asyncio.shield(recorder.finish(status, output, error))
            # Counted once recorded: an end the database did not take is reached again
            # when the run goes on from its log (engine/resumption.py), and counted then.
            self.metrics.run_finished(workflow.name, end["status"])
        except OwnershipLost:
            log.warning("run %s was taken over by another process: stopped here", eid)
            return await self._stored_end(eid, None)
        result = {
            "execution_id": eid,
            "workflow": workflow.name,
            **end,
            "blocks": runstore.every_block(top_order(plan), executor.top_blocks, UNSTARTED_RESULT),
        }
        if secrets:  # what the caller sees is redacted like what is stored
            result = recorder.redact.result(result)
        if recorder.replaced:  # U+FFFD where the record has it, as read back elsewhere
            result = as_recorded(result)
        return result
