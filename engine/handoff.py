"""Runs handed from a web process to an engine process (``serve --engine-process``).

The web process accepts a run as usual (one statement: the run row, owned by
``HANDOFF`` until an engine process claims it, and its ``run_queued`` event) and
adds a NOTIFY that PostgreSQL sends on commit. The engine process listens; on
each announcement (and every SWEEP_S without one) it claims every waiting run in
one statement, never skipping one another statement holds for a moment, and
starts them in the order they were accepted, keeping per-``concurrency_key``
order with the same in-process chains as a single process. Runs accepted while
no engine process was listening (it was starting, or being replaced after a
crash) wait as ``HANDOFF`` and are claimed, in order, when one starts. The web
process learns that a run ended from a second NOTIFY, sent by the statement that
records the end.

Why not procrastinate for this: its per-job work (the fetch with its lock check,
the finish, its events) halved the engine's throughput on 2 cores
(bench/worker_scaling.py); here a run costs the engine one extra read, shared by
every run announced at once. Scale-out across machines still uses the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from engine.deployments import lock_key
from engine.repeated_failures import RepeatedFailures

log = logging.getLogger("flowyard.handoff")

ACCEPTED = "flowyard_accepted"  # payload: execution id (engine/runstore.py, accept)
FINISHED = "flowyard_finished"  # payload: execution id (engine/recorder.py, finish)
HANDOFF = "handoff"  # the owner of an accepted run no engine process has claimed yet
SWEEP_S = 5.0  # also claim waiting runs when none was announced for this long

BATCH = 500  # runs claimed per statement: a long backlog is taken a batch at a time
#: Held (shared) by every engine process while it takes handed-over runs, one lock
#: per deployment (lock_key): when nobody of its deployment holds it, runs waiting
#: for an engine process are stranded (serve restarted without --engine-process),
#: and a process of that deployment that executes runs takes them itself.
ENGINE_LOCK = 0x666C7977  # "flyw"

_CLAIM = f"""
    UPDATE flowyard_runs SET owner = $1, heartbeat_at = now()
     WHERE execution_id IN (
           SELECT execution_id FROM flowyard_runs AS r
            WHERE owner = '{HANDOFF}' AND status = 'queued'
              AND ($2::uuid[] IS NULL OR execution_id = ANY($2::uuid[]))
              -- handed over by this deployment's web process (engine/deployments.py)
              AND queue = $3
              -- Not while an earlier run of its key is held by another process (an
              -- engine process whose serve was killed runs on for seconds; another
              -- owner not yet found dead): started here, it ran before them. It is
              -- claimed once they ended, or were taken over here and chained.
              AND NOT EXISTS (
                    SELECT 1 FROM flowyard_runs AS o
                     WHERE o.concurrency_key = r.concurrency_key
                       AND o.status IN ('queued', 'running') AND o.created_at < r.created_at
                       AND o.owner <> $1 AND o.owner <> '{HANDOFF}' AND o.queue = $3)
            ORDER BY created_at, execution_id
            LIMIT {BATCH}
              -- Waits for a row another statement holds for a moment (a repeated
              -- delivery judging the key's run: engine/intake.py) instead of skipping
              -- it: a skipped run was never announced again and later runs of its key
              -- overtook it. Claimers lock in this order, so two never deadlock.
              FOR UPDATE)
    -- the input as it came, not as stored redacted (engine/intake.py)
    RETURNING execution_id, workflow_hash, COALESCE(unredacted_input, input) AS input,
              concurrency_key, created_at, rerun_of, trigger_block,
              -- events past `run_queued`: a re-run's carried-over blocks, to reuse
              EXISTS (SELECT 1 FROM flowyard_run_events e
                       WHERE e.execution_id = flowyard_runs.execution_id AND e.seq > 1) AS recorded
"""


def in_acceptance_order(rows: list[Any]) -> list[Any]:
    """Claimed run rows in the order they were accepted: a key's runs then chain
    as they arrived (UPDATE ... RETURNING promises no order)."""
    return sorted(rows, key=lambda r: (r["created_at"], r["execution_id"]))


async def take_handoffs(runtime: Any) -> None:
    """In the engine process: start every run handed to it, until cancelled. A lost
    database connection is reconnected (and what was announced meanwhile is swept).
    Runs of other processes that die meanwhile are taken over too, every heartbeat
    (Runtime.take_over_orphans)."""
    from engine import runtime as runtime_module  # it imports this module
    from engine.key_order import hold_key_order

    beat = runtime_module.HEARTBEAT_S
    taking_over = asyncio.create_task(runtime.take_over_orphans(beat))
    # Runs of one key are chained here, in this process's memory: say so if another
    # process does the same on this database.
    ordering = asyncio.create_task(hold_key_order(runtime, "flowyard engine", True, beat))
    # A database outage is said once, then at most once a minute, and once when runs
    # are taken again: an ERROR with its traceback at every try, a second apart, was
    # ~25 lines a second for as long as the outage lasted.
    failures = RepeatedFailures(log, "taking handed-over runs")
    try:
        while True:
            try:
                await _listen_and_take(runtime, failures.worked)
            except Exception as exc:  # tried again in 1 s
                failures.failed(exc)
                await asyncio.sleep(1.0)
    finally:
        for task in (taking_over, ordering):
            task.cancel()
        await asyncio.gather(taking_over, ordering, return_exceptions=True)


async def _listen_and_take(runtime: Any, listening: Callable[[], None]) -> None:
    """Listen for announced runs and take them; ``listening`` is told once the
    listener is set up and the waiting runs were taken."""
    arrived: asyncio.Queue[str] = asyncio.Queue()
    conn = await runtime.db.connect()
    # released on close
    await conn.execute(
        "SELECT pg_advisory_lock_shared($1, $2)", *lock_key(ENGINE_LOCK, runtime.deployment)
    )
    await conn.add_listener(ACCEPTED, lambda _c, _pid, _ch, eid: arrived.put_nowait(eid))
    conn.add_termination_listener(lambda _c: arrived.put_nowait(""))  # "": listen again
    try:
        while True:
            # Every waiting run, not only the announced ones: what waited while no
            # engine process listened, and what an earlier claim did not get, is taken
            # under steady traffic too, and before any later run of its key.
            await _take(runtime)
            listening()
            with contextlib.suppress(TimeoutError):  # none announced: look anyway
                announced = [await asyncio.wait_for(arrived.get(), SWEEP_S)]
                while not arrived.empty():
                    announced.append(arrived.get_nowait())
                if "" in announced:
                    raise ConnectionError("the LISTEN connection was closed")
    finally:
        with contextlib.suppress(Exception):
            await conn.close()


async def _take(runtime: Any) -> None:
    while True:
        with runtime.starts.starting():  # owned here, not yet in tasks (engine/own_runs.py)
            rows = await runtime.db.log_pool.fetch(_CLAIM, runtime.owner, None, runtime.deployment)
            for row in in_acceptance_order(rows):
                await runtime.take(row)
        if len(rows) < BATCH:
            return


async def claim_stranded(
    pool: asyncpg.Pool, owner: str, deployment: str, execution_id: str | None = None
) -> list[asyncpg.Record]:
    """Runs handed to an engine process of ``deployment`` while none runs (all, or
    one), claimed by ``owner``; none while an engine process of it holds its
    ENGINE_LOCK. One that starts meanwhile waits for this claim to commit, then
    finds them taken."""
    eids = None if execution_id is None else [execution_id]
    rows: list[asyncpg.Record] = []
    key = lock_key(ENGINE_LOCK, deployment)
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", *key):
            return []
        while True:
            batch = await conn.fetch(_CLAIM, owner, eids, deployment)
            rows += batch
            if len(batch) < BATCH:
                return in_acceptance_order(rows)


class FinishWatcher:
    """In the web process: wakes whoever waits for a run the engine process ends."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._conn: asyncpg.Connection | None = None

    async def start(self, db: Any) -> None:
        """Listen on a connection of ``db`` (engine/database.py, Database)."""
        self._conn = await db.connect()
        await self._conn.add_listener(FINISHED, self._finished)

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()

    def expect(self, execution_id: str) -> asyncio.Future[None]:
        """A future set when ``execution_id`` ends; register before reading its status."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = self._waiters.setdefault(execution_id, set())
        waiting.add(future)
        future.add_done_callback(lambda f: self._forget(execution_id, f))
        return future

    def _forget(self, execution_id: str, future: asyncio.Future[None]) -> None:
        waiting = self._waiters.get(execution_id)
        if waiting is not None:
            waiting.discard(future)
            if not waiting:
                del self._waiters[execution_id]

    def _finished(self, _conn: Any, _pid: int, _channel: str, execution_id: str) -> None:
        for future in list(self._waiters.get(execution_id, ())):
            if not future.done():
                future.set_result(None)
