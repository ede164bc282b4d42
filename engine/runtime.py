"""The runtime: the engine's public facade for the CLI, the server and tests.

It owns the database pool, the function worker pool and the runs in flight.
Runs are accepted durably (one INSERT) and then executed in-process
(engine/run_execution.py); every run goes through :meth:`Runtime.submit`, the one
seam a queue can replace.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import intake, runstore, workflow_versions
from engine.cancels import cancelled_error, listen_for_cancels, request_cancel
from engine.context import Services
from engine.credentials import input_credentials
from engine.database import Database
from engine.functions import FunctionPool
from engine.handoff import HANDOFF, FinishWatcher
from engine.inflight import InFlight, beat, flush
from engine.intake import SameRequest
from engine.metrics import Metrics
from engine.migrations import migrate
from engine.model import BlockModel, Workflow, WorkflowError
from engine.own_runs import Starts
from engine.queue import RunQueue, queue_name
from engine.recorder import OwnershipLost
from engine.recovery import carried_events, key_base, owner_id, rerun_records
from engine.redaction import Redactor, secrets_of
from engine.rerun_guard import one_rerun_at_a_time
from engine.rerun_names import StoredVersionRefused, refuse_renaming
from engine.resumption import Resumption
from engine.retention import prune_hourly
from engine.run_ends import record_end
from engine.run_execution import RunExecution
from engine.run_reads import RunReads
from engine.triggers import started_by_hand
from engine.workflows import WorkflowStore

HEARTBEAT_S = 10.0
FLUSH_INTERVAL_S = 0.2  # live progress: buffered run events reach the log at least this often


class InputNotKept(Exception):
    """A re-run of a run whose input held a secret (an ``<env.…>`` value, or a
    credential a block reads from it: docs/engine.md, "Secrets"): it was stored
    redacted, and the input as it came was kept only until the run ended. Re-run with ``***`` in
    place of the secret, the run would not be the one it repeats."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        super().__init__(
            f"run {execution_id} cannot be re-run: its input held a secret (a value of an"
            " <env.…> its workflow names, or a credential a block reads from the input,"
            " such as an Agent's api_key or an Authorization header), which is not kept"
            " once a run has ended; submit the input again instead"
        )


@dataclass(frozen=True, slots=True)
class Submission:
    execution_id: str
    created: bool  # False: an earlier delivery with the same idempotency key owns the run
    retry_of: str | None = None  # the failed or cancelled run a webhook's retry replaces
    pruned: bool = False  # not created: the earlier run with its key was pruned since


def _without_secret(key: str | None, redactor: Redactor) -> str | None:
    """``key``, or its hash when it holds one of the run's secrets."""
    if key is None or redactor(key) == key:
        return key
    return intake.hashed(key)


class Runtime(RunExecution, Resumption, RunReads):
    """Owns the pools and the runs in flight.

    ``local=True`` (the default): an accepted run executes in this process, right
    after the INSERT that accepts it. ``local=False`` with a ``queue``: the run is
    inserted together with a procrastinate job, and a worker executes it.
    ``max_active_runs``: how many of its runs execute at once (engine/inflight.py).
    """

    def __init__(
        self,
        workflows_dir: str | Path = "workflows",
        database_url: str | None = None,
        workspace: str | Path = ".",
        function_workers: int | None = None,
        resume: bool = True,
        queue: bool = False,
        local: bool = True,
        max_active_runs: int | None = None,
    ) -> None:
        self.workflows = WorkflowStore(workflows_dir)
        self.workspace = Path(workspace)
        self.database_url = database_url
        self.resume_on_start = resume
        self.use_queue = queue
        self.local = local or not queue
        self.owner = owner_id()
        # The deployment (FLOWYARD_QUEUE) its runs are recorded with; it executes,
        # resumes and takes over runs of no other (engine/deployments.py).
        self.deployment = queue_name()
        self._function_workers = function_workers
        self._runs = InFlight(max_active_runs)
        # What is about to own a run or to end one outside its task (engine/own_runs.py).
        self.starts = Starts()
        self._known_versions: set[str] = set()
        self._versions: dict[str, Workflow] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._closing = False
        self.queue: RunQueue | None = None
        # serve --engine-process (engine/handoff.py): the web process hands its runs
        # over (`handoff`) and waits on `finished`; the engine process announces ends.
        self.handoff = False
        self.finished: FinishWatcher | None = None
        self.notify_finish = False
        # This process keeps the order of runs by concurrency key for the database
        # (engine/key_order.py): it takes over a dead process's keyed runs at once.
        self.orders_keys = False
        self.metrics = Metrics()
        self.db: Database
        self.services: Services

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        import blocks  # noqa: F401 - registers the block types

        self.db = await Database.open(self.database_url, self.workspace)
        try:
            await migrate(self.db.log_pool)  # NewerSchema: a newer release's database
        except BaseException:
            await self.db.close()
            raise
        functions = FunctionPool(self._function_workers)
        await functions.start()
        self.services = Services(
            db=self.db, functions=functions, lib_roots=(self.workflows_dir, self.workspace)
        )
        if self.use_queue:
            self.queue = RunQueue(self.db.urls.libpq, self.deployment)
            await self.queue.open(self.db.log_pool)
        pool = self.db.log_pool
        self._tasks.append(asyncio.create_task(beat(self._runs, pool, self.owner, HEARTBEAT_S)))
        self._tasks.append(asyncio.create_task(flush(self._runs, FLUSH_INTERVAL_S)))
        self._tasks.append(asyncio.create_task(prune_hourly(self.db.log_pool)))
        self._tasks.append(asyncio.create_task(listen_for_cancels(self)))
        if self.resume_on_start and self.local:
            await self.resume_unfinished()

    async def work(self, concurrency: int, stop: asyncio.Event) -> None:
        """Execute queued runs (procrastinate jobs) until ``stop`` is set, and take
        over the runs of processes that die meanwhile."""
        assert self.queue is not None, "Runtime(queue=True) is needed to work a queue"
        taking_over = asyncio.create_task(self.take_over_orphans(HEARTBEAT_S))
        try:
            await self.queue.work(self.execute_claimed, concurrency, stop)
        finally:
            taking_over.cancel()
            await asyncio.gather(taking_over, return_exceptions=True)

    async def drain(self) -> None:
        """Wait for every run in flight (resumed ones included) to finish."""
        while self._runs.tasks:
            await asyncio.gather(*list(self._runs.tasks.values()), return_exceptions=True)

    async def close(self, grace: float = 0.0) -> None:
        """Stop. Runs in flight get ``grace`` seconds to end; those still going are
        interrupted (left unfinished, transactions rolled back, resumed by the next
        start). A deploy wants a grace: an interrupted block whose effect had happened
        (an INSERT outside a group, a request sent) runs again on resume."""
        self._runs.stopping = True  # runs not yet begun stay queued for the next start
        if grace > 0 and self._runs.tasks:
            await asyncio.wait(list(self._runs.tasks.values()), timeout=grace)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        self._runs.say_interrupted()
        for task in list(self._runs.tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks, *self._runs.tasks.values(), return_exceptions=True)
        if self.queue is not None:
            await self.queue.close()
        if self.finished is not None:
            await self.finished.close()
        await self.services.aclose()
        await self.services.functions.close()
        await self.db.close()

    # -- workflows ----------------------------------------------------------------
    @property
    def workflows_dir(self) -> Path:
        return self.workflows.folder

    def workflow_names(self) -> list[str]:
        return self.workflows.names()

    def workflow_path(self, name: str) -> Path:
        return self.workflows.path(name)

    def load_workflow(self, name_or_path: str | Path) -> Workflow:
        return self.workflows.load(name_or_path)

    def find_webhook(self, path: str, method: str = "POST") -> tuple[Workflow, BlockModel] | None:
        return self.workflows.find_webhook(path, method)

    def broken_webhook(self, path: str, method: str = "POST") -> str | None:
        return self.workflows.broken_webhook(path, method)

    # -- runs ---------------------------------------------------------------------
    async def submit(
        self,
        workflow: Workflow,
        input: dict[str, Any] | None = None,
        *,
        trigger: str = "manual",
        idempotency_key: str | None = None,
        concurrency_key: str | None = None,
        reuse: dict[str, dict[str, Any]] | None = None,
        key_of: str | None = None,
        same_request: SameRequest | None = None,
        tick: tuple[str, dt.datetime] | None = None,
        rerun_of: str | None = None,
        trigger_block: str | None = None,
        earlier_keys: Sequence[str] = (),
    ) -> Submission:
        """Durably accept a run (one statement), then execute it here or enqueue it.

        Runs sharing a ``concurrency_key`` execute one at a time, in the order they
        were accepted, whichever workflow they belong to: a key is one for the
        database (a template and its copies write the same tables, so their runs
        for one order wait for each other; docs/deploy.md, "Ordering per key").
        ``same_request``: a webhook's rules for a repeated idempotency key
        (engine/intake.py). ``tick``: a schedule block's id and tick, accepted only
        if later than the last tick that block submitted (``created`` False
        otherwise), which still holds once retention has deleted the earlier
        tick's run and its idempotency key with it. ``rerun_of``: the run a re-run
        repeats (``<workflow.rerun_of>``). ``key_of``: a re-run from the failed block's
        earlier run, whose idempotency keys it sends; ``reuse``, what it carries over.

        ``trigger_block``: the trigger block the run starts from, the workflow's
        other trigger blocks being skipped (engine/triggers.py); a tick's is its
        schedule block. A run by hand (``trigger="manual"``) starts from the one
        :func:`~engine.triggers.started_by_hand` picks, or raises
        :class:`~engine.triggers.NoTriggerChosen` with nothing accepted.

        ``earlier_keys``: the forms earlier releases stored ``idempotency_key`` in
        (a webhook's: engine/intake.py), looked up beside it.
        """
        input = input or {}
        if tick is not None:
            trigger_block = tick[0]
        elif trigger == "manual" and trigger_block is None:
            start = started_by_hand(workflow)
            trigger_block = start.id if start is not None else None
            if start is not None and start.type == "schedule":
                # Run by hand, a scheduled workflow gets the input its ticks get, what
                # is given overriding it (`flowyard run report` of a daily report).
                input = {**(start.config.get("input") or {}), **input}
        version = await workflow_versions.save_version(
            self.db.log_pool, workflow, self._known_versions
        )
        handoff = self.handoff and not self.local
        queue = None if self.local or handoff else self.queue
        owner = self.owner if self.local else HANDOFF if handoff else None
        carried = carried_events(workflow.plan, reuse or {}, key_of) if key_of else []
        # Stored and shown with the workflow's secrets (and the credentials the input
        # holds: engine/credentials.py) redacted, as its events are; a key holding
        # one (`evt:<webhook.body.token>`) is kept as its hash, as a key read from a
        # credential header is: it was in clear in the run row, the job's lock and a
        # 409's message.
        plan = workflow.plan
        given = input_credentials(plan.credential_refs, plan.handlers, input)
        redactor = Redactor(secrets_of(plan.env_names) | given)
        shown, redacted = redactor.value(input)
        sent_key, idempotency_key = idempotency_key, _without_secret(idempotency_key, redactor)
        if idempotency_key != sent_key:  # their earlier forms hold the secret in clear
            earlier_keys = ()
        concurrency_key = _without_secret(concurrency_key, redactor)
        # From the INSERT to the run's task: a caller that gives up meanwhile (a webhook
        # answered 503) leaves a run this process's sweep finds and starts.
        with self.starts.starting():
            eid, created, retry_of, pruned = await intake.accept(
                self.db.log_pool, workflow.name, version, trigger, input, idempotency_key,
                owner, key=concurrency_key, queue=queue.name if queue is not None else None,
                notify=handoff, carried=carried, same_request=same_request, tick=tick,
                shown=shown if redacted else None, rerun_of=rerun_of, trigger_block=trigger_block,
                earlier_keys=earlier_keys, deployment=self.deployment,
            )  # fmt: skip
            if not created:  # a repeated delivery: hand back the first run, start nothing
                return Submission(eid, False, pruned=pruned)
            if self.local:
                self._spawn(eid, workflow, input, reuse, next_seq=2 + len(carried),
                            key=concurrency_key, rerun_of=rerun_of,
                            trigger_block=trigger_block, key_of=key_of)  # fmt: skip
        return Submission(eid, True, retry_of)

    async def rerun(
        self,
        execution_id: str,
        from_failed: bool = True,
        workflow: Workflow | None = None,
        idempotency_key: str | None = None,
    ) -> Submission:
        """Run a finished run again with its input and workflow version.

        ``from_failed``: blocks that succeeded (and whose transactions committed) are
        not run again; their outputs are carried over and recorded as reused.
        ``workflow``: run this version instead (the workflow as it is now, asked
        for); with the stored one, a re-run of a delivery that would name itself is
        refused (:class:`~engine.rerun_names.RerunNamesItself`), nothing accepted.
        ``idempotency_key``: a client's key for this re-run of this run; a repeat of it
        is answered with the re-run it started (``created`` False).
        """
        pool = self.db.log_pool
        row = await runstore.fetch_run_row(pool, execution_id)
        if row is None:
            raise KeyError(f"no run {execution_id}")
        input = row["input"] or {}
        if row["input_redacted"]:  # kept as it came only while the run is unfinished
            input = await runstore.input_as_it_came(pool, execution_id)
            if input is None:
                raise InputNotKept(execution_id)
        stored = workflow is None
        if workflow is None:
            try:
                workflow = await self._version(row["workflow_hash"])
            except WorkflowError as exc:  # an earlier release's version, say: not a 500
                raise StoredVersionRefused(execution_id, str(exc)) from exc
        reused = key_of = None
        if from_failed:
            events = await runstore.fetch_events(pool, execution_id)
            reused = rerun_records(workflow.plan, events, execution_id)
            key_of = key_base(events, execution_id)
        if stored:
            await refuse_renaming(pool, row, workflow, reused)
        # The key too: a re-run of an order's event waits its turn with that order's
        # new events (and sends its outbox once), as the run it repeats did. And the
        # run it repeats (a re-run of a re-run: the first run), from_failed or not:
        # <workflow.rerun_of> lets it name what that run named (an event id derived
        # from the run's id, so a re-run of a delivery without one is the same event).
        first = str(row["rerun_of"] or execution_id)
        # Re-runs of one workflow share a key namespace: the run re-run is part of the
        # key, so one key sent for re-runs of two runs starts both.
        key = None if idempotency_key is None else f"{execution_id}:{idempotency_key}"
        async with one_rerun_at_a_time(self.db, execution_id, first, key):  # engine/rerun_guard.py
            return await self.submit(
                workflow, input, trigger="rerun", reuse=reused, key_of=key_of,
                concurrency_key=row["concurrency_key"], rerun_of=first,
                trigger_block=row["trigger_block"], idempotency_key=key,
            )  # fmt: skip

    async def execute(
        self, workflow: Workflow, input: dict[str, Any] | None = None, **kw: Any
    ) -> dict[str, Any]:
        sub = await self.submit(workflow, input, **kw)
        return await self.wait(sub.execution_id)

    async def request_cancel(self, execution_id: str) -> str | None:
        """Cancel a run wherever it executes (engine/cancels.py)."""
        return await request_cancel(self, execution_id)

    async def cancel(self, execution_id: str) -> str | None:
        """Cancel a run this process holds: a running one records `cancelled` and rolls
        its transactions back (``"cancelling"``); one that has not begun is recorded
        `cancelled` here and never begins (``"cancelled"``; engine/inflight.py).
        None: no such run here."""
        # Held until its end is written: withdrawn, no task of it may begin the run.
        with self.starts.holding(execution_id):
            begun = self._runs.cancel(execution_id)
            if begun is None:
                return None
            if begun:
                return "cancelling"
            try:
                await record_end(
                    self.db.log_pool, execution_id, self.owner, "cancelled",
                    cancelled_error(), self.notify_finish,
                )  # fmt: skip
            except OwnershipLost:  # taken over meanwhile: the new owner runs it
                self._runs.recorded(execution_id)  # not here
                return None
            except BaseException:
                # Not recorded (the database is away): not cancelled. Kept in memory
                # only, the cancel would be lost by a stop before the database came
                # back, and the run executed after all; so the caller hears the error
                # (a 503: ask again) and the run stays as it was.
                self._runs.restore(execution_id)
                raise
        self._runs.recorded(execution_id)
        return "cancelled"

    # -- execution (of one run: engine/run_execution.py) -----------------------------
    @property
    def runs_in_flight(self) -> int:
        return self._runs.executing

    @property
    def runs_waiting(self) -> int:  # for their key's turn or a slot (FLOWYARD_MAX_ACTIVE_RUNS)
        return self._runs.waiting
