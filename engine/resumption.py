"""Runs this process continues rather than starts: resumed after their process died,
handed over by a web process (engine/handoff.py), or claimed by a queue job.

A mixin of :class:`engine.runtime.Runtime`, kept apart so the facade stays short.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from engine import runstore
from engine.cancels import cancelled_error
from engine.database import server_unreachable
from engine.handoff import claim_stranded, in_acceptance_order
from engine.inflight import InFlight
from engine.metrics import Metrics
from engine.model import Problem, Workflow, WorkflowError
from engine.own_runs import OWN_UNBEATEN, RECLAIM_OWN, UNBEATEN_BEATS, Starts
from engine.recovery import claim, key_base, logged_skips, restorable
from engine.run_ends import record_end
from engine.validate import validate_document

log = logging.getLogger("flowyard.runtime")


#: A run this process still owns and that has not ended, as _continue reads it (its
#: input as it came: the stored one may be redacted, engine/intake.py).
_HELD_ROW = """
    SELECT execution_id, workflow_hash, COALESCE(unredacted_input, input) AS input,
           concurrency_key, rerun_of, trigger_block FROM flowyard_runs
     WHERE execution_id = $1::uuid AND owner = $2 AND status IN ('queued', 'running')
"""


class Resumption:
    # Set by Runtime (engine/runtime.py); _execute_stored, _spawn: engine/run_execution.py.
    db: Any
    owner: str
    deployment: str  # FLOWYARD_QUEUE: only its runs are taken (engine/deployments.py)
    resume_on_start: bool
    local: bool
    orders_keys: bool
    notify_finish: bool
    _closing: bool
    metrics: Metrics
    _runs: InFlight
    starts: Starts
    _execute_stored: Callable[..., Any]
    _stored_end: Callable[..., Any]
    _versions: dict[str, Workflow]
    _spawn: Callable[..., asyncio.Task[dict[str, Any]]]

    async def resume_unfinished(self, execution_id: str | None = None) -> list[str]:
        """Claim runs whose process died (all, or one) — and runs left for an engine
        process when none runs — and continue them from their last completed block."""
        pool, resumed = self.db.log_pool, []
        with self.starts.starting():
            rows = await claim(pool, self.owner, execution_id, deployment=self.deployment)
            rows += await claim_stranded(pool, self.owner, self.deployment, execution_id)
            for row in in_acceptance_order(rows):
                if await self._continue(row) is not None:  # a key's runs chained in order
                    resumed.append(str(row["execution_id"]))
        return resumed

    async def take_over_orphans(self, interval: float) -> None:
        """While this process works (a queue worker, the engine process): every
        ``interval`` s, claim the runs of processes that died (this host, pid gone)
        or went silent (no heartbeat for recovery.STALE_AFTER_S) and continue them.
        A run executed in its accepting process has no queue job another worker
        would retry: without this, it waited for a start or `runs resume`. Runs
        handed to an engine process are left to the next engine process; a dead
        process's runs with a concurrency key, to the process that orders keys
        until they are silent (recovery.claim, engine/key_order.py).

        And this process's own orphans (engine/own_runs.py): runs it owns but does
        not execute — an accepting INSERT that committed after its caller gave up on
        it — once unbeaten for UNBEATEN_BEATS heartbeats."""
        if not (self.resume_on_start and self.local):
            return  # a process that does not execute runs, or must not take others'
        while True:
            await asyncio.sleep(interval)
            # Its own after the others': those it claims are in tasks by then.
            for find in (self._silent_owners_runs, self._own_orphans):
                try:
                    rows = await find(interval)
                except Exception as exc:
                    if not server_unreachable(exc):  # an outage: the heartbeat says so
                        log.exception("looking for runs of dead processes failed")
                    break
                for row in rows:  # in acceptance order: a key's runs chain as they arrived
                    eid = row["execution_id"]
                    log.warning("taking over run %s: its process died, went silent, or "
                                "(this one) never started it", eid)  # fmt: skip
                    try:
                        await self._continue(row)
                    except Exception:  # unbeaten, it goes stale: it is taken over again
                        log.exception("run %s taken over cannot be continued", eid)

    async def _silent_owners_runs(self, _interval: float) -> list[Any]:
        return await claim(
            self.db.log_pool, self.owner, deployment=self.deployment, keyed=self.orders_keys
        )

    async def _own_orphans(self, interval: float) -> list[Any]:
        """Claim (beat) the runs this process owns but neither executes nor is about
        to: every coroutine that may have made it their owner before they were read
        has settled by then (its runs are in tasks), else they wait for the next look."""
        pool, unbeaten = self.db.log_pool, UNBEATEN_BEATS * interval
        seen = await pool.fetch(OWN_UNBEATEN, self.owner, unbeaten)
        if not seen or not await self.starts.settled(self.starts.mark(), interval):
            return []
        eids = [str(r["execution_id"]) for r in seen]
        idle = [eid for eid in eids if eid not in self._runs.tasks and not self.starts.holds(eid)]
        if not idle:
            return []
        return in_acceptance_order(await pool.fetch(RECLAIM_OWN, self.owner, idle, unbeaten))

    async def take(self, row: Any) -> None:
        """Start a run handed to this process (engine/handoff.py), unless already started."""
        eid = str(row["execution_id"])
        if eid in self._runs.tasks:
            return
        if row["recorded"]:  # it carries records to reuse (a re-run): read them first
            await self._continue(row)
            return
        workflow = await self._version(row["workflow_hash"])
        self._spawn(eid, workflow, row["input"] or {}, key=row["concurrency_key"],
                    rerun_of=_rerun_of(row), trigger_block=row.get("trigger_block"))  # fmt: skip

    async def execute_claimed(self, execution_id: str) -> None:
        """A queue worker's job: claim the run and execute it (resuming if it had started)."""
        with self.starts.starting():
            rows = await claim(
                self.db.log_pool, self.owner, execution_id, deployment=self.deployment, queued=True
            )
            task = await self._continue(rows[0]) if rows else None
        if not rows:
            taken = self._runs.tasks.get(execution_id)
            if taken is not None:  # this process took it over already (take_over_orphans)
                await asyncio.wait([taken])
                return
            status = await runstore.run_status(self.db.log_pool, execution_id)
            if status in ("queued", "running"):
                # A live process owns it (its worker was wrongly taken for dead): fail the
                # job loudly; the owner finishes the run, or it is resumed once it goes silent.
                raise RuntimeError(f"run {execution_id} is owned by a live process")
            return  # finished already
        if task is not None:
            await task

    async def _or_continued_later(self, eid: str, run: Any) -> dict[str, Any]:
        """Run ``run`` (a run's execution). If PostgreSQL stops answering under it (a
        restart, a failover), the run stays this process's and goes on from its log
        once the database answers — in this same task, so its heartbeat holds, runs
        after it with its concurrency key keep waiting, and its waiters get its end.
        A cancel meanwhile ends it; shutting down leaves it for the next start."""
        try:
            return await run
        except Exception as exc:
            if not server_unreachable(exc) or self._closing:
                raise
            if eid in self._runs.cancel_asked:  # its cancelled end could not be written
                return await self._cancelled_when_reachable(eid)
            log.error("run %s stopped, the database cannot be reached: %r; it goes on "
                      "once the database answers", eid, exc)  # fmt: skip
        wait = 1.0
        while True:
            try:
                await asyncio.sleep(wait)
                row = await self.db.log_pool.fetchrow(_HELD_ROW, eid, self.owner)
                if row is None:  # ended meanwhile, or taken over: its end is the log's
                    return await self._stored_end(eid, None)
                again = await self._continuation(row)
            except asyncio.CancelledError:
                if self._closing:
                    raise
                return await self._cancelled_when_reachable(eid)
            except Exception as exc:
                if not server_unreachable(exc):
                    raise
                wait = min(wait * 2, 30.0)
                continue
            if again is None:  # its workflow version is gone: the run ended failed
                return await self._stored_end(eid, None)
            return await self._or_continued_later(eid, self._execute_stored(*again))

    async def _cancelled_when_reachable(self, eid: str) -> dict[str, Any]:
        """Record the end of a run cancelled while the database was away, as soon as
        it answers (asking again meanwhile changes nothing)."""
        wait = 1.0
        while True:
            try:
                await record_end(self.db.log_pool, eid, self.owner, "cancelled",
                                 cancelled_error(), self.notify_finish)  # fmt: skip
                ended = await self._stored_end(eid, None)
                # Its execution did not count it: its end was not recorded then.
                self.metrics.run_finished(ended["workflow"], ended["status"])
                return ended
            except asyncio.CancelledError:
                if self._closing:
                    raise
            except Exception as exc:
                if not server_unreachable(exc):
                    raise
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:  # asked again: it is being recorded
                if self._closing:
                    raise
            wait = min(wait * 2, 30.0)

    async def _continue(self, row: Any) -> asyncio.Task[dict[str, Any]] | None:
        args = await self._continuation(row)
        if args is None:
            return None
        running = self._runs.tasks.get(args[0])
        if running is not None:  # one task per run, however it was found
            return running
        return self._spawn(*args[:5], row.get("concurrency_key"), *args[5:])

    async def _continuation(self, row: Any) -> tuple[Any, ...] | None:
        """What executing run ``row`` from its log takes (``_execute_stored``'s
        arguments), or None when it cannot be (its end is recorded)."""
        pool = self.db.log_pool
        eid = str(row["execution_id"])
        events = await runstore.fetch_events(pool, eid)
        next_seq = (events[-1]["seq"] + 1) if events else 2
        try:
            workflow = await self._version(row["workflow_hash"])
        except WorkflowError as exc:
            error = {"type": "WorkflowError", "message": str(exc), "block": None}
            await record_end(pool, eid, self.owner, "failed", error, self.notify_finish, next_seq)
            return None
        restored = restorable(workflow.plan, events, handled_failures=True)
        if restored:
            log.info("resuming run %s (%d blocks already done)", eid, len(restored))
        started_at = runstore.first_start(events)
        # A claimed row has no input (engine/recovery.py): it is read when the run starts.
        return (eid, workflow, row.get("input"), restored, next_seq, started_at, _rerun_of(row),
                row.get("trigger_block"), logged_skips(events), key_base(events, eid))  # fmt: skip

    async def _version(self, version: str) -> Workflow:
        """The workflow a run was accepted with, validated once per process."""
        workflow = self._versions.get(version)
        if workflow is None:
            row = await self.db.log_pool.fetchrow(
                "SELECT file, source FROM flowyard_workflow_versions WHERE hash = $1", version
            )
            if row is None:  # the run then fails; it must not stop this process resuming others
                stored = Problem(f"the run's workflow version {version!r} is not stored")
                raise WorkflowError([stored])
            workflow = self._versions[version] = validate_document(row["source"], row["file"])
            # Its hash is the one it is stored by: a re-run names the same version,
            # also one stored before schema version 7, whose hash was of sorted keys.
            workflow.content_hash = version
        return workflow


def _rerun_of(row: Any) -> str | None:
    """The run a run re-runs, from its claimed row (engine/migrations.py, rerun_of)."""
    rerun_of = row.get("rerun_of")
    return None if rerun_of is None else str(rerun_of)
