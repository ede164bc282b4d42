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
from engine.inflight import InFlight
from engine.model import Problem, Workflow, WorkflowError
from engine.recorder import record_end
from engine.recovery import claim, restorable
from engine.validate import validate_document

log = logging.getLogger("flowyard.runtime")


class Resumption:
    # Set by Runtime (engine/runtime.py).
    db: Any
    owner: str
    notify_finish: bool
    _runs: InFlight
    _versions: dict[str, Workflow]
    _spawn: Callable[..., asyncio.Task[dict[str, Any]]]

    async def resume_unfinished(self, execution_id: str | None = None) -> list[str]:
        """Claim runs whose process died (all, or one) and continue them from their
        last completed block."""
        resumed = []
        for row in await claim(self.db.log_pool, self.owner, execution_id, queued=False):
            if await self._continue(row) is not None:  # a key's runs chained in arrival order
                resumed.append(str(row["execution_id"]))
        return resumed

    async def take(self, row: Any) -> None:
        """Start a run handed to this process (engine/handoff.py), unless already started."""
        eid = str(row["execution_id"])
        if eid in self._runs.tasks:
            return
        if row["recorded"]:  # it carries records to reuse (a re-run): read them first
            await self._continue(row)
            return
        workflow = await self._version(row["workflow_hash"])
        self._spawn(eid, workflow, row["input"] or {}, key=row["concurrency_key"])

    async def execute_claimed(self, execution_id: str) -> None:
        """A queue worker's job: claim the run and execute it (resuming if it had started)."""
        rows = await claim(self.db.log_pool, self.owner, execution_id, queued=True)
        if not rows:
            status = await runstore.run_status(self.db.log_pool, execution_id)
            if status in ("queued", "running"):
                # A live process owns it (its worker was wrongly taken for dead): fail the
                # job loudly; the owner finishes the run, or it is resumed once it goes silent.
                raise RuntimeError(f"run {execution_id} is owned by a live process")
            return  # finished already
        task = await self._continue(rows[0])
        if task is not None:
            await task

    async def _continue(self, row: Any) -> asyncio.Task[dict[str, Any]] | None:
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
        restored = restorable(workflow.plan, events)
        if restored:
            log.info("resuming run %s (%d blocks already done)", eid, len(restored))
        key, started_at = row.get("concurrency_key"), runstore.first_start(events)
        return self._spawn(eid, workflow, row["input"] or {}, restored, next_seq, key, started_at)

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
        return workflow
