"""The runtime: the engine's public facade for the CLI, the server and tests.

It owns the database pool, the function worker pool and the runs in flight.
Runs are accepted durably (one INSERT) and then executed in-process; every run
goes through :meth:`Runtime.submit`, the one seam a queue can replace.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from engine import runstore
from engine.context import RunContext, Services
from engine.database import Database
from engine.executor import Executor
from engine.functions import FunctionPool
from engine.model import BlockModel, Workflow, WorkflowError, load_file
from engine.recovery import restorable
from engine.runstore import FINAL_STATUSES, RunRecorder
from engine.transactions import Transactions
from engine.validate import validate_document

log = logging.getLogger("flowyard.runtime")

WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")
HEARTBEAT_S = 10.0
FLUSH_INTERVAL_S = 0.2  # live progress: buffered run events reach the log at least this often
STALE_AFTER_S = 60.0


@dataclass(frozen=True, slots=True)
class Submission:
    execution_id: str
    created: bool  # False: an earlier delivery with the same idempotency key owns the run


_SUBMIT = """
    WITH ins AS (
        INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, trigger, input,
                                   idempotency_key, owner, heartbeat_at)
        VALUES ($1::uuid, $2, $3, 'queued', $4, $5::jsonb, $6, $7, now())
        ON CONFLICT (workflow, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING execution_id
    ), ev AS (
        INSERT INTO flowyard_run_events (execution_id, seq, type, data)
        SELECT execution_id, 1, 'run_queued', jsonb_build_object('trigger', $4::text) FROM ins
    )
    SELECT execution_id FROM ins
"""


class Runtime:
    def __init__(
        self,
        workflows_dir: str | Path = "workflows",
        database_url: str | None = None,
        workspace: str | Path = ".",
        function_workers: int | None = None,
        resume: bool = True,
    ) -> None:
        self.workflows_dir = Path(workflows_dir)
        self.workspace = Path(workspace)
        self.database_url = database_url
        self.resume_on_start = resume
        self.owner = _owner_id()
        self._function_workers = function_workers
        self._active: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._recorders: dict[str, RunRecorder] = {}
        self._known_versions: set[str] = set()
        self._cache: dict[Path, tuple[float, Workflow]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self.db: Database
        self.services: Services

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        import blocks  # noqa: F401 - registers the block types

        self.db = await Database.open(self.database_url, self.workspace)
        await runstore.migrate(self.db.log_pool)
        functions = FunctionPool(self._function_workers)
        await functions.start()
        self.services = Services(db=self.db, functions=functions, workspace=str(self.workspace))
        self._tasks.append(asyncio.create_task(self._heartbeat()))
        self._tasks.append(asyncio.create_task(self._flusher()))
        if self.resume_on_start:
            await self.resume_unfinished()

    async def drain(self) -> None:
        """Wait for every run in flight (resumed ones included) to finish."""
        while self._active:
            await asyncio.gather(*list(self._active.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in list(self._active.values()):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._active.values(), return_exceptions=True)
        await self.services.aclose()
        await self.services.functions.close()
        await self.db.close()

    # -- workflows ----------------------------------------------------------------
    def workflow_names(self) -> list[str]:
        if not self.workflows_dir.is_dir():
            return []
        return sorted(
            p.stem
            for p in self.workflows_dir.iterdir()
            if p.suffix in WORKFLOW_SUFFIXES and p.is_file()
        )

    def workflow_path(self, name: str) -> Path:
        for suffix in WORKFLOW_SUFFIXES:
            p = self.workflows_dir / f"{name}{suffix}"
            if p.exists():
                return p
        return self.workflows_dir / f"{name}.yaml"

    def load_workflow(self, name_or_path: str | Path) -> Workflow:
        """Load (cached by mtime) a workflow by file path or by name in the workspace."""
        p = Path(name_or_path)
        if not (p.suffix in WORKFLOW_SUFFIXES and p.exists()):
            p = self.workflow_path(str(name_or_path))
        if not p.exists():
            from engine.model import Problem

            raise WorkflowError(
                [
                    Problem(
                        f"no workflow named {str(name_or_path)!r} in {self.workflows_dir}", str(p)
                    )
                ]
            )
        mtime = p.stat().st_mtime
        hit = self._cache.get(p)
        if hit is None or hit[0] != mtime:
            hit = (mtime, load_file(p))
            self._cache[p] = hit
        return hit[1]

    def find_webhook(self, path: str, method: str = "POST") -> tuple[Workflow, BlockModel] | None:
        path = path.strip("/")
        for name in self.workflow_names():
            try:
                wf = self.load_workflow(name)
            except WorkflowError:
                continue
            for b in wf.blocks.values():
                if b.type == "webhook" and str(b.config.get("path", "")).strip("/") == path:
                    if str(b.config.get("method", "POST")).upper() == method.upper():
                        return wf, b
        return None

    # -- runs ---------------------------------------------------------------------
    async def submit(
        self,
        workflow: Workflow,
        input: dict[str, Any] | None = None,
        *,
        trigger: str = "manual",
        idempotency_key: str | None = None,
    ) -> Submission:
        """Durably accept a run (one INSERT), then execute it in this process."""
        input = input or {}
        version = await self._ensure_version(workflow)
        eid = runstore.new_execution_id()
        pool = self.db.log_pool
        row = await pool.fetchrow(
            _SUBMIT, eid, workflow.name, version, trigger, input, idempotency_key, self.owner
        )
        if row is None:  # a repeated delivery: hand back the first run, start nothing
            first = await pool.fetchval(
                "SELECT execution_id FROM flowyard_runs WHERE workflow = $1 AND idempotency_key = $2",
                workflow.name,
                idempotency_key,
            )
            return Submission(str(first), False)
        self._spawn(eid, workflow, input)
        return Submission(eid, True)

    async def execute(
        self, workflow: Workflow, input: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        sub = await self.submit(workflow, input, **kw)
        return await self.wait(sub.execution_id)

    async def wait(self, execution_id: str, timeout: float | None = None) -> dict[str, Any]:
        task = self._active.get(execution_id)
        if task is not None:
            return await asyncio.wait_for(asyncio.shield(task), timeout)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            result = await self.run_result(execution_id)
            if result is None:
                raise KeyError(f"no run {execution_id}")
            if result["status"] in FINAL_STATUSES:
                return result
            if deadline is not None and loop.time() > deadline:
                raise TimeoutError(f"run {execution_id} is still {result['status']}")
            await asyncio.sleep(0.1)

    async def cancel(self, execution_id: str) -> bool:
        task = self._active.get(execution_id)
        if task is None:
            return False
        task.cancel()
        return True

    async def run_result(self, execution_id: str) -> dict[str, Any] | None:
        return await runstore.run_result(self.db.log_pool, execution_id)

    async def run_events(self, execution_id: str, after: int = 0) -> list[dict[str, Any]]:
        return await runstore.fetch_events(self.db.log_pool, execution_id, after)

    async def list_runs(
        self, workflow: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        rows = await self.db.log_pool.fetch(
            "SELECT * FROM flowyard_runs WHERE ($1::text IS NULL OR workflow = $1)"
            " AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3",
            workflow,
            status,
            max(1, min(int(limit), 1000)),
        )
        return [runstore.run_summary(r) for r in rows]

    # -- execution ------------------------------------------------------------------
    def _spawn(
        self,
        eid: str,
        workflow: Workflow,
        input: dict[str, Any],
        restored: dict[str, dict[str, Any]] | None = None,
        next_seq: int = 2,
    ) -> None:
        task = asyncio.create_task(self._execute(eid, workflow, input, restored, next_seq))
        self._active[eid] = task
        task.add_done_callback(lambda _t: self._active.pop(eid, None))

    async def _execute(
        self,
        eid: str,
        workflow: Workflow,
        input: dict[str, Any],
        restored: dict[str, dict[str, Any]] | None,
        next_seq: int,
    ) -> dict[str, Any]:
        plan = workflow.plan
        secrets: set[str] = set()
        recorder = RunRecorder(self.db.log_pool, eid, secrets, next_seq)

        async def mark_committed(group: str, conn: Any) -> None:
            await recorder.write_in(conn, "transaction_committed", {"group": group})

        transactions = Transactions(self.db.pool, plan.transaction_groups, mark_committed)
        run = RunContext(eid, plan, input, self.services, recorder, transactions, restored)
        run.secrets = secrets
        recorder.started()
        executor = Executor(run)
        self._recorders[eid] = recorder
        try:
            status, output, error = await executor.execute()
        except asyncio.CancelledError:
            status, output, error = (
                "cancelled",
                None,
                {"type": "Cancelled", "message": "the run was cancelled", "block": None},
            )
        finally:
            self._recorders.pop(eid, None)
        recorder.add(f"run_{status}", None, {"output": output, "error": error})
        await asyncio.shield(recorder.finish(status, output, error))
        result = {
            "execution_id": eid,
            "workflow": workflow.name,
            "status": status,
            "output": output,
            "error": error,
            "blocks": executor.top_blocks,
        }
        if secrets:  # what the caller sees is redacted like what is stored
            result = json.loads(recorder.redact(runstore.dumps(result)))
        return result

    async def _ensure_version(self, workflow: Workflow) -> str:
        text = json.dumps(workflow.source, sort_keys=True, default=str)
        version = hashlib.sha256((workflow.file + "\0" + text).encode()).hexdigest()[:32]
        if version not in self._known_versions:
            await self.db.log_pool.execute(
                "INSERT INTO flowyard_workflow_versions (hash, name, file, source) VALUES ($1, $2, $3, $4::jsonb)"
                " ON CONFLICT (hash) DO NOTHING",
                version,
                workflow.name,
                workflow.file,
                workflow.source,
            )
            self._known_versions.add(version)
        return version

    # -- crash recovery ---------------------------------------------------------------
    async def resume_unfinished(self) -> list[str]:
        """Claim runs whose process died and continue them from their last completed block."""
        pool = self.db.log_pool
        owners = [
            r["owner"]
            for r in await pool.fetch(
                "SELECT DISTINCT owner FROM flowyard_runs WHERE status IN ('queued', 'running') AND owner IS DISTINCT FROM $1",
                self.owner,
            )
        ]
        dead = [o for o in owners if _owner_dead(o)]
        rows = await pool.fetch(
            "UPDATE flowyard_runs SET owner = $1, heartbeat_at = now()"
            " WHERE status IN ('queued', 'running') AND owner IS DISTINCT FROM $1"
            " AND (owner = ANY($2::text[]) OR heartbeat_at < now() - make_interval(secs => $3))"
            " RETURNING execution_id, workflow_hash, input",
            self.owner,
            dead,
            STALE_AFTER_S,
        )
        resumed = []
        for row in rows:
            eid = str(row["execution_id"])
            version = await pool.fetchrow(
                "SELECT file, source FROM flowyard_workflow_versions WHERE hash = $1",
                row["workflow_hash"],
            )
            events = await runstore.fetch_events(pool, eid)
            next_seq = (events[-1]["seq"] + 1) if events else 2
            try:
                workflow = validate_document(version["source"], version["file"])
            except WorkflowError as exc:
                recorder = RunRecorder(pool, eid, set(), next_seq)
                error = {"type": "WorkflowError", "message": str(exc), "block": None}
                recorder.add("run_failed", None, {"error": error})
                await recorder.finish("failed", None, error)
                continue
            restored = restorable(workflow.plan, events)
            log.info("resuming run %s (%d blocks already done)", eid, len(restored))
            self._spawn(eid, workflow, row["input"] or {}, restored, next_seq)
            resumed.append(eid)
        return resumed

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL_S)
            for recorder in list(self._recorders.values()):
                if recorder.pending:
                    try:
                        await recorder.flush()
                    except Exception:  # the run's own final write reports real trouble
                        log.exception("flushing run events failed")

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.db.log_pool.execute(
                    "UPDATE flowyard_runs SET heartbeat_at = now() WHERE owner = $1 AND status IN ('queued', 'running')",
                    self.owner,
                )
            except Exception:  # the next beat will try again
                log.exception("heartbeat failed")


def _owner_id() -> str:
    proc = psutil.Process()
    return f"{socket.gethostname()}:{os.getpid()}:{int(proc.create_time())}"


def _owner_dead(owner: str | None) -> bool:
    """Whether a run's owner is a process of this host that no longer exists."""
    if not owner:
        return True
    try:
        host, pid_s, started = owner.rsplit(":", 2)
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False  # another machine: rely on its heartbeat going stale
    try:
        return int(psutil.Process(pid).create_time()) != int(started)
    except psutil.NoSuchProcess:
        return True
