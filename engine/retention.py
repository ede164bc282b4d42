"""Retention: old run records are deleted, whole runs at a time.

Only flowyard's own run log (``flowyard_runs``, ``flowyard_run_events``) is pruned;
the templates' ``events`` table is business data and is never touched here. A
pruned run's idempotency key is kept, hashed (engine/pruned_keys.py), so a resend
of its delivery never runs it a second time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from typing import Any

import asyncpg

from engine import pruned_keys

DEFAULT_RETENTION = "30d"
log = logging.getLogger("flowyard.retention")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


#: The longest age a duration may say. PostgreSQL's timestamps end 4713 BC: "now
#: minus" much more was `interval out of range` at every prune, a traceback from `runs
#: prune` and, from the hourly pruning, a failure logged every hour, retention off.
MAX_DURATION_S = 36500 * 86400.0
MAX_DURATION = "36500d (100 years)"


def parse_duration(text: str) -> float:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` → seconds, from 0 to MAX_DURATION_S."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 7d, 12h, 30m)")
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not seconds <= MAX_DURATION_S:  # `not <=`: a number of 400 digits is inf
        raise ValueError(f"too long: {text!r} (at most {MAX_DURATION})")
    return seconds


#: A batch of finished runs older than the cutoff. A run was accepted before it
#: finished, so ``created_at`` is before the cutoff too (a skew between the clocks of
#: the database and of the process that ended it only puts a run off to the next
#: prune): the runs are found among the old ones through an index on it, where
#: ``finished_at`` alone, which no index has, read every
#: run at each batch and at each hourly prune, also one with nothing to prune: 1.2 s
#: on a year's million runs, in every serve and worker, at its start and every hour.
_OLD_RUNS = (
    "SELECT execution_id FROM flowyard_runs WHERE status IN ('succeeded', 'failed', 'cancelled')"
    " AND created_at < {cutoff} AND finished_at < {cutoff} LIMIT $1 FOR UPDATE SKIP LOCKED"
)


def _cutoff(older_than_s: float) -> str:
    """The cutoff as SQL, its age a number in the text: as a parameter, a connection
    that pruned a few times plans it generically, for a third of the runs, and reads
    them all again."""
    return f"(now() - make_interval(secs => {float(older_than_s)!r}))"


async def prune(pool: asyncpg.Pool, older_than_s: float, batch: int = 5000) -> tuple[int, int]:
    """Delete finished runs older than the cutoff; returns (runs, events) deleted."""
    runs = events = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SET LOCAL flowyard.pruning = 'on'")
            ids = await conn.fetch(_OLD_RUNS.format(cutoff=_cutoff(older_than_s)), batch)
            if not ids:
                return runs, events
            events += await forget_runs(conn, [r["execution_id"] for r in ids])
            runs += len(ids)


async def forget_runs(conn: asyncpg.Connection, execution_ids: list[Any]) -> int:
    """Delete these finished runs and their events (returns how many events), keeping
    what identifies their deliveries (engine/pruned_keys.py): a resend of one is still
    a repeat of its run. In the caller's transaction, which set flowyard.pruning."""
    await conn.execute(pruned_keys.KEEP, execution_ids)
    # Through the (execution_id, seq) index, always: ANALYZE's fixed sample counts
    # far fewer runs than a long log holds (59,154 of a million in 20 million
    # events), so the planner took a batch's events for 1.7 million rows and read
    # the whole log for them, 9.4 s a batch of 5,000 runs, where the index takes
    # 0.04 s. Only for this transaction: it deletes just these runs' events.
    await conn.execute("SET LOCAL enable_seqscan = off")
    deleted = await conn.execute(
        "DELETE FROM flowyard_run_events WHERE execution_id = ANY($1::uuid[])", execution_ids
    )
    await conn.execute(
        "DELETE FROM flowyard_runs WHERE execution_id = ANY($1::uuid[])", execution_ids
    )
    return int(deleted.split()[-1])


def retention_s() -> float:
    """FLOWYARD_RUN_RETENTION (default 30d) in seconds; ValueError when it is no
    duration, too long, or 0: a setting of 0 deleted every finished run's record as
    soon as the hourly pruning came (`runs prune --older-than 0s` asks it on purpose)."""
    raw = os.environ.get("FLOWYARD_RUN_RETENTION") or DEFAULT_RETENTION
    seconds = parse_duration(raw)
    if seconds == 0:
        raise ValueError(
            f"{raw.strip()!r} would delete every finished run's record within the hour:"
            f" give an age above 0 (unset, it is {DEFAULT_RETENTION})"
        )
    return seconds


async def prune_hourly(pool: asyncpg.Pool) -> None:
    """A runtime's background task: prune old run records every hour
    (FLOWYARD_RUN_RETENTION, default 30d)."""
    keep = retention_s()
    while True:
        try:
            runs, _ = await prune(pool, keep)
            if runs:
                log.info("retention: pruned %d runs older than %s s", runs, keep)
        except Exception:
            log.exception("retention pruning failed")
        await asyncio.sleep(3600)
