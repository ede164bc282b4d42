"""Which process keeps runs of one ``concurrency_key`` in order, on one database.

A run accepted by a full ``serve`` executes in that process, and runs sharing a key
wait for each other in an in-process chain (engine/inflight.py); the engine process
of ``serve --engine-process`` chains the runs handed to it the same way. The order
is kept in that process's memory: a second such process on the same database keeps
an order of its own, so two runs of one key accepted by the two can run at once,
or the later one first. Runs queued by ``serve --no-worker`` are ordered by
procrastinate's job lock, which the fast path does not take, so they are not
ordered with a full serve's either. Taking the key's turn in the database instead
would cost every keyed run a write and a wait on the hot path; one ordering process
per database is the supported topology (docs/deploy.md, "Ordering per key").

So each such process holds an advisory lock (its deployment's: runs of another
FLOWYARD_QUEUE are never executed here, engine/deployments.py), on a connection of its own, for as long
as it runs: exclusive for a process that orders keys in memory, shared for a server
that only queues. One that cannot have it logs an error naming the other processes,
tries again every heartbeat, and says so once it holds it (the others stopped, or
PostgreSQL noticed they died). The holder of the exclusive lock is also the one
that takes over a dead process's keyed runs at once (Resumption.take_over_orphans).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from engine.deployments import lock_key

log = logging.getLogger("flowyard.key_order")

KEY_ORDER_LOCK = 0x666C796B  # "flyk"
#: A process restarted at once (the engine process after a crash) may find its dead
#: predecessor's session still holding the lock for a moment: tried this many
#: times, a second apart, before it is said.
_QUIET_TRIES = 3

_OTHERS = """
    SELECT DISTINCT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
     WHERE l.locktype = 'advisory' AND l.classid::bigint = $1 AND l.objid::bigint = $2
       AND l.objsubid = 2 AND l.granted AND l.pid <> pg_backend_pid()
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


async def hold_key_order(runtime: Any, what: str, exclusive: bool, interval: float) -> None:
    """Hold the key-order lock for ``runtime``'s process, ``what`` (``flowyard
    serve``, …), until cancelled. ``exclusive``: it orders keys in memory; shared:
    it only queues runs. Sets ``runtime.orders_keys`` while it holds it exclusively."""
    settings = {"application_name": f"{what} {runtime.owner}"[:63]}
    take = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
    # One per deployment: another deployment's serve orders runs it never sees.
    key = lock_key(KEY_ORDER_LOCK, runtime.deployment)
    tries, said = 0, False
    while True:
        conn = None
        try:
            conn = await runtime.db.connect(server_settings=settings)
            while not await conn.fetchval(f"SELECT {take}($1, $2)", *key):
                tries += 1
                if tries == _QUIET_TRIES and not said:
                    others = [r[0] for r in await conn.fetch(_OTHERS, *key)]
                    log.error(_clash(what, exclusive, others))
                    said = True
                await asyncio.sleep(1.0 if tries < _QUIET_TRIES else interval)
            runtime.orders_keys = exclusive
            if said:
                log.warning("%s now keeps the order of runs by concurrency_key alone", what)
            tries, said = 0, False
            while True:  # held as long as the session lasts: look that it does
                await asyncio.sleep(interval)
                await conn.fetchval("SELECT 1")
        except asyncio.CancelledError:
            raise
        except Exception:  # the database went away: the lock with it; take it again
            runtime.orders_keys = False
            await asyncio.sleep(1.0)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()


def _clash(what: str, exclusive: bool, others: list[str]) -> str:
    named = ", ".join(sorted(others)) or "another flowyard process"
    role = (
        "keeps runs with one concurrency_key in order in its own memory"
        if exclusive
        else "queues runs whose concurrency_key is ordered by the queue"
    )
    return (
        f"{what} ({role}) shares this database with {named}: runs with the same "
        "concurrency_key accepted by different processes are NOT kept in order with each "
        "other (they may run at once, or the later first). For key order run one "
        "`flowyard serve` per database (with --engine-process if you like), or only "
        "`serve --no-worker` servers and `flowyard worker`s (docs/deploy.md, "
        "'Ordering per key')"
    )
