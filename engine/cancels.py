"""Cancelling a run from any process (``POST /api/runs/<id>/cancel``, ``flowyard runs
cancel ID``).

A run executes in one process: the one that accepted it, the engine process, a
queue worker, or whoever resumed it. The process asked to cancel it either holds
it (``Runtime.cancel``: the run records `cancelled` and rolls its transactions
back), or ends it in the database when nobody has begun it (queued for a worker or
the engine process, or owned by a process that died), or asks every process with
a NOTIFY: the one holding it cancels it. A NOTIFY sent while that process was
reconnecting is lost: the answer is then `cancelling` and the run goes on; asking
again is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from engine.handoff import HANDOFF
from engine.recorder import OwnershipLost
from engine.recovery import claim
from engine.run_ends import record_end
from engine.runstore import FINAL_STATUSES, run_status

log = logging.getLogger("flowyard.runtime")

CANCEL = "flowyard_cancel"  # NOTIFY channel; payload: execution id

_CLAIM_UNBEGUN = f"""
    UPDATE flowyard_runs SET owner = $2, heartbeat_at = now()
     WHERE execution_id = $1::uuid AND status = 'queued'
       AND (owner IS NULL OR owner = '{HANDOFF}')
    RETURNING execution_id
"""
_DEPLOYMENT = "SELECT queue FROM flowyard_runs WHERE execution_id = $1::uuid"


def cancelled_error() -> dict[str, Any]:
    return {"type": "Cancelled", "message": "the run was cancelled", "block": None}


async def request_cancel(runtime: Any, execution_id: str) -> str | None:
    """Cancel a run wherever it executes: ``"cancelling"`` (its process was asked;
    it records the end), ``"cancelled"`` (ended here), the final status when it had
    already ended, or None for an unknown run."""
    here = await runtime.cancel(execution_id)
    if here is not None:
        return here
    pool = runtime.db.log_pool
    status = await run_status(pool, execution_id)
    if status is None or status in FINAL_STATUSES:
        return status
    # Nobody has begun it (queued for a worker or the engine process), or its
    # owner died: take it, and record its end here — owned here meanwhile, in no
    # task: not a run this process's sweep may start (engine/own_runs.py).
    with runtime.starts.starting():
        taken = await pool.fetchval(_CLAIM_UNBEGUN, execution_id, runtime.owner)
        if taken is None:
            # Whichever deployment's it is: ending it cancelled executes nothing, so
            # no environment is used (engine/deployments.py).
            queue = await pool.fetchval(_DEPLOYMENT, execution_id)
            taken = queue is not None and bool(
                await claim(pool, runtime.owner, execution_id, deployment=queue)
            )
        if taken:
            with contextlib.suppress(OwnershipLost):  # taken over meanwhile: theirs to end
                await record_end(
                    pool, execution_id, runtime.owner, "cancelled", cancelled_error(), True
                )
                return "cancelled"
    await pool.execute("SELECT pg_notify($1, $2)", CANCEL, execution_id)
    return "cancelling"


async def listen_for_cancels(runtime: Any) -> None:
    """Cancel the runs this process holds when another process asks, until
    cancelled; a lost connection is reconnected."""
    asked: set[asyncio.Task[Any]] = set()  # kept until done: a dropped task may never run

    def on_notify(_c: Any, _pid: int, _ch: str, eid: str) -> None:
        task = asyncio.ensure_future(runtime.cancel(eid))
        asked.add(task)
        task.add_done_callback(asked.discard)

    while True:
        try:
            conn = await runtime.db.connect()
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(1.0)
            continue
        try:
            await _until_closed(conn, on_notify)
            log.warning("the cancel listener's connection closed; reconnecting")
        finally:
            with contextlib.suppress(Exception):
                await conn.close()


async def _until_closed(conn: asyncpg.Connection, on_notify: Any) -> None:
    closed = asyncio.Event()
    conn.add_termination_listener(lambda _c: closed.set())
    await conn.add_listener(CANCEL, on_notify)
    await closed.wait()
