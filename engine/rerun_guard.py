"""One re-run at a time of the runs that repeat one piece of work.

A run still going is not re-run (the API's ``409``: a second run beside it would
repeat its effects), but two re-runs of one failed run were: a client resending its
``POST /rerun`` after a timeout, or two people pressing "Re-run" on the same run,
had two runs repeat the failed block and what follows it at once — a Database
INSERT, a Slack post, an email, which no idempotency key makes safe, applied twice.

The runs that repeat one piece of work are a first run and every re-run of it, or of
a re-run of it: their ``rerun_of`` is that first run (engine/migrations.py). A re-run
of any of them is refused (:class:`RerunUnderWay`) while one of them is queued or
running. Two requests at once are put in line by an advisory lock on that first run,
held until the accepting statement has committed, so the second sees the first's
re-run; the check reads the partial index of unfinished runs.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import AsyncIterator
from typing import Any

#: The advisory lock kind of a first run's re-runs ("flyr"; engine/deployments.py's
#: two-part keys: the kind, then 31 bits of a CRC-32).
RERUN_LOCK = 0x666C7972

_UNFINISHED = """
    SELECT execution_id, status, idempotency_key FROM flowyard_runs
     WHERE status IN ('queued', 'running')
       AND (execution_id = $1::uuid OR rerun_of = $1::uuid)
     ORDER BY created_at
     LIMIT 1
"""


class RerunUnderWay(Exception):
    """A run of the same work (the run, a re-run of it, the run it re-ran) is queued or
    running: another re-run beside it would repeat its effects."""

    def __init__(self, execution_id: str, running: str, status: str) -> None:
        self.execution_id, self.running, self.status = execution_id, running, status
        super().__init__(
            f"run {execution_id} cannot be re-run now: run {running}, which repeats the"
            f" same work (a re-run of it, or the run it re-ran), is {status}, and a second"
            " run beside it would repeat its effects; re-run once it has ended"
        )


@contextlib.asynccontextmanager
async def one_rerun_at_a_time(
    db: Any, execution_id: str, first: str, key: str | None = None
) -> AsyncIterator[None]:
    """Hold the line of re-runs of ``first`` (the first run of ``execution_id``'s
    chain) while a re-run of ``execution_id`` is accepted inside; raise
    :class:`RerunUnderWay` when one of them is unfinished — unless that one is the
    re-run this request's idempotency ``key`` started (a client's resend after a
    timeout: accepting answers it with that re-run). A connection of its own:
    taken from the run log's pool, while accepting takes another, requests enough at
    once would wait on each other for good."""
    conn = await db.connect()
    try:
        async with conn.transaction():  # the lock is released when it ends
            lock = zlib.crc32(first.encode("utf-8")) & 0x7FFFFFFF
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", RERUN_LOCK, lock)
            row = await conn.fetchrow(_UNFINISHED, first)
            if row is not None and (key is None or row["idempotency_key"] != key):
                raise RerunUnderWay(execution_id, str(row["execution_id"]), row["status"])
            yield
    finally:
        await conn.close()
