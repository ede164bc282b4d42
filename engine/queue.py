"""Scale-out: runs as procrastinate jobs on the same PostgreSQL (no broker).

A run accepted in queue mode is inserted together with its job in ONE statement
(``procrastinate_defer_jobs_v1``, procrastinate's versioned SQL API), so there is
no moment where a run exists without a job or a job without its run. A worker
claims the run and executes it from its last completed block, so a job retried
after its worker died resumes rather than restarts. A ``concurrency_key``
becomes the job's procrastinate ``lock``: runs with the same key, of any workflow,
execute one at a time in arrival order, other keys in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import asyncpg

from engine.repeated_failures import RepeatedFailures, quiet_psycopg_connects

if TYPE_CHECKING:
    from procrastinate import RetryStrategy
    from procrastinate.worker import Worker

log = logging.getLogger("flowyard.queue")

TASK = "flowyard.execute_run"
#: The queue of a deployment that sets no FLOWYARD_QUEUE (and of the runs accepted
#: before a run recorded its deployment: engine/deployments.py).
DEFAULT_QUEUE = "flowyard"


def queue_name() -> str:
    """The procrastinate queue (FLOWYARD_QUEUE): separate deployments sharing one
    database, or test sessions, use separate queues."""
    return os.environ.get("FLOWYARD_QUEUE") or DEFAULT_QUEUE


#: Ends the run-accepting statement (engine/runtime.py) in queue mode. The job CTE
#: is a SELECT, which PostgreSQL only evaluates when referenced: hence the join.
DEFER_TAIL = f"""
    , job AS (
        SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(
            $9::text, '{TASK}', 0, $8::text, NULL,
            jsonb_build_object('execution_id', execution_id::text), NULL
        )::procrastinate_job_to_defer_v1]) AS ids FROM ins
    )
    SELECT execution_id FROM ins JOIN job ON true
"""


#: The worker timings (seconds) and their defaults; tests shorten them.
WORKER_SETTINGS = {
    "heartbeat": ("FLOWYARD_WORKER_HEARTBEAT", 5.0),
    "stalled_after": ("FLOWYARD_WORKER_STALLED_AFTER", 20.0),
    # procrastinate wakes on NOTIFY when a job is inserted, but not when a job
    # finishes and frees the next one of its lock (one order's next event):
    # those are found by polling, so the interval bounds a keyed chain's step.
    "poll": ("FLOWYARD_WORKER_POLL", 0.05),
    # How long procrastinate waits for a connection from its pool before the call
    # fails: with the database away that long, its worker ends (and is started again).
    "connection_wait": ("FLOWYARD_WORKER_CONNECTION_WAIT", 30.0),
}
MAX_WORKER_SETTING_S = 3600.0

#: The pause before a worker that ended by itself is started again: the first one,
#: doubled at each end in a row, up to the last. A worker that ran for the steady
#: time before it ended is a new incident: its pause is the first again.
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
RESTART_STEADY_S = 60.0


def worker_settings() -> dict[str, float]:
    """Heartbeat, stall detection, polling and the connection wait (seconds);
    ValueError, with the line to print, for a value that is no number of seconds
    above 0 (up to an hour), or a stall limit not above the heartbeat: a worker that
    beats in time would then be taken for stalled, and its running jobs retried
    elsewhere."""
    out: dict[str, float] = {}
    for key, (name, default) in WORKER_SETTINGS.items():
        raw = os.environ.get(name, "").strip()
        try:
            value = float(raw) if raw else default
        except ValueError:
            value = -1.0
        if not 0 < value <= MAX_WORKER_SETTING_S:  # NaN fails too
            raise ValueError(
                f"{name}={raw!r} is not a number of seconds above 0 and at most"
                f" {MAX_WORKER_SETTING_S:.0f} (unset, it is {default:g})"
            )
        out[key] = value
    if out["stalled_after"] <= out["heartbeat"]:
        raise ValueError(
            f"FLOWYARD_WORKER_STALLED_AFTER ({out['stalled_after']:g} s) must be longer than"
            f" FLOWYARD_WORKER_HEARTBEAT ({out['heartbeat']:g} s): a worker that beats in time"
            " would be taken for stalled"
        )
    return out


def _retry_strategy() -> RetryStrategy:
    """A failed job comes back until its run can be claimed or has ended.

    A job fails when its run is owned by a process that still looks alive: a
    worker on another machine that died is only taken for dead once its run's
    heartbeat is stale (recovery.STALE_AFTER_S, 60 s), while procrastinate retries
    the job of a stalled worker sooner (``stalled_after``, 20 s). A job that failed
    for good would leave that run ``running`` with nobody to resume it; a retried
    one claims it later, or returns once the live owner has finished it.
    """
    from procrastinate import RetryStrategy  # noqa: F811 - imported lazily, like App

    return RetryStrategy(wait=max(1, round(worker_settings()["heartbeat"])))


async def ensure_schema(pool: asyncpg.Pool) -> None:
    """Install procrastinate's schema once per database (serialized across processes)."""
    from procrastinate.schema import SchemaManager

    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7146002)")
        if await conn.fetchval("SELECT to_regclass('procrastinate_jobs') IS NOT NULL"):
            return
        await conn.execute(SchemaManager.get_schema())


class RunQueue:
    """The procrastinate app flowyard uses: one task, ``execute_run(execution_id)``."""

    def __init__(self, url: str, name: str | None = None) -> None:
        from procrastinate import App, PsycopgConnector

        self.url = url
        self.name = name or queue_name()
        wait = worker_settings()["connection_wait"]
        quiet_psycopg_connects()  # its pool's tries through an outage, in one line a minute
        self.app = App(
            connector=PsycopgConnector(conninfo=url, min_size=1, max_size=10, timeout=wait)
        )
        self._handler: Callable[[str], Awaitable[Any]] | None = None

        @self.app.task(name=TASK, queue=self.name, retry=_retry_strategy())
        async def execute_run(execution_id: str) -> None:
            assert self._handler is not None, "no runtime is working this queue"
            await self._handler(execution_id)

        self.task = execute_run
        self._opened = False
        #: While this process works the queue: "running", or "restarting" between a
        #: worker that ended by itself and the next one (GET /api/health shows it).
        self.worker_state: str | None = None
        self.worker_restarts = 0  # workers that ended by themselves (GET /metrics)

    async def open(self, pool: asyncpg.Pool) -> None:
        await ensure_schema(pool)
        await self.app.open_async()
        self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self.app.close_async()
            self._opened = False

    async def work(
        self, handler: Callable[[str], Awaitable[Any]], concurrency: int, stop: asyncio.Event
    ) -> None:
        """Run a worker until ``stop`` is set, retrying jobs of workers that died, and
        starting it again whenever it ends by itself."""
        self._handler = handler
        s = worker_settings()
        reaper = asyncio.create_task(self._retry_stalled(s))
        try:
            await self._keep_working(concurrency, s, stop)
        finally:
            self.worker_state = None
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reaper

    async def _keep_working(
        self, concurrency: int, s: dict[str, float], stop: asyncio.Event
    ) -> None:
        """procrastinate's worker ends by itself when the database is away for longer
        than its connection wait (its job fetch fails), and is meant to stop when its
        listener or heartbeat fails (3.10 stops watching those once its periodic
        deferrer, idle here, has returned: procrastinate issue #1597). Nothing else
        starts it again: the process stayed alive with jobs left `todo` for good.

        It ends only once the jobs it was running have ended (it waits for them), so
        the next one never executes a run beside them; a job of theirs retried
        meanwhile as a stalled worker's (no heartbeat while it waits) finds its run
        owned by this live process, here or elsewhere (Resumption.execute_claimed)."""
        from procrastinate.worker import Worker  # noqa: F811 - imported lazily, like App

        pause = RESTART_FIRST_S
        stopping = asyncio.create_task(stop.wait())
        worker: asyncio.Task[None] | None = None
        current: Worker | None = None
        try:
            while True:
                self.worker_state = "running"
                began = time.monotonic()
                self.app.perform_import_paths()  # as app.run_worker_async does
                current = Worker(
                    app=self.app,
                    queues=[self.name],
                    concurrency=concurrency,
                    install_signal_handlers=False,
                    update_heartbeat_interval=s["heartbeat"],
                    stalled_worker_timeout=s["stalled_after"],
                    fetch_job_polling_interval=s["poll"],
                    delete_jobs="successful",
                )
                worker = asyncio.create_task(current.run())
                await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping.done():
                    return
                if time.monotonic() - began >= RESTART_STEADY_S:
                    pause = RESTART_FIRST_S  # it had been working: a new incident
                self.worker_state = "restarting"
                self.worker_restarts += 1
                reason, trace = _why_it_ended(worker)
                log.error("the queue worker stopped: %s; starting it again in %g s",
                          reason, pause, exc_info=trace)  # fmt: skip
                await asyncio.wait({stopping}, timeout=pause)
                if stopping.done():
                    return
                pause = min(pause * 2, RESTART_MAX_S)
                log.info("starting the queue worker again")
        finally:
            stopping.cancel()
            if worker is not None and current is not None:
                worker.cancel()  # procrastinate stops taking jobs, lets its jobs end
                # It stops beating first, then waits: a drain longer than the stall
                # limit had its own jobs retried as a stalled worker's, here and in
                # every other process.
                beating = asyncio.create_task(self._beat_while_draining(current, s["heartbeat"]))
                try:
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await worker
                finally:
                    beating.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await beating

    async def _beat_while_draining(self, worker: Worker, every: float) -> None:
        """The heartbeat of a stopping procrastinate worker, until it has unregistered
        (its id then None) once its jobs ended. A beat at once: its last own one may
        be nearly an interval old."""
        while worker.worker_id is not None:
            try:
                await self.app.job_manager.update_heartbeat(worker.worker_id)
            except Exception:  # the database away: the next beat tries again
                log.debug("a draining worker's heartbeat failed", exc_info=True)
            await asyncio.sleep(every)

    async def _retry_stalled(self, s: dict[str, float]) -> None:
        """Jobs whose worker stopped beating are put back; another worker resumes them.
        A database outage is said once, then at most once a minute (engine/repeated_failures.py)."""
        failures = RepeatedFailures(log, "checking for stalled jobs")
        while True:
            await asyncio.sleep(s["heartbeat"])
            try:
                stalled = await self.app.job_manager.get_stalled_jobs(
                    queue=self.name, seconds_since_heartbeat=s["stalled_after"]
                )
                for job in stalled:
                    log.warning(
                        "retrying job %s of a stalled worker (run %s)", job.id, job.task_kwargs
                    )
                    await self.app.job_manager.retry_job(job)
            except Exception as exc:  # the next round tries again
                failures.failed(exc)
            else:
                failures.worked()

    async def depth(self, pool: asyncpg.Pool) -> dict[str, int]:
        rows = await pool.fetch(
            "SELECT status::text, count(*) AS n FROM procrastinate_jobs WHERE queue_name = $1 GROUP BY status",
            self.name,
        )
        return {r["status"]: r["n"] for r in rows}


def _why_it_ended(worker: asyncio.Task[None]) -> tuple[str, BaseException | None]:
    """What ended procrastinate's worker, in one line, and the exception whose
    traceback is worth logging: not a database error's (the line says it all, and
    an outage would repeat it at every attempt)."""
    from procrastinate.exceptions import ConnectorException

    if worker.cancelled():
        return "it was cancelled", None
    exc = worker.exception()
    if exc is None:
        # procrastinate stops its worker when its listener or heartbeat fails, and
        # logs that failure itself.
        return "it stopped by itself (a task of procrastinate's failed: see above)", None
    causes = []
    seen: BaseException | None = exc
    while seen is not None and len(causes) < 4:
        text = " ".join(str(seen).split())
        causes.append(f"{type(seen).__name__}: {text}" if text else type(seen).__name__)
        seen = seen.__cause__  # what it was raised from, not what it met on its way
    return ", caused by ".join(causes), None if isinstance(exc, ConnectorException) else exc
