"""Retention deletes a batch of runs' events through the run-log index, not by reading
the whole log.

A shop running flowyard for a year has ~20 million run events. Each batch of pruning
(5,000 runs) deleted their events with ``execution_id = ANY(<5,000 ids>)``, and
PostgreSQL read all 20 million to find them: ANALYZE's sample of 30,000 rows
estimated 59,154 runs (there were a million), so 340 events a run, 1.7 million for
the batch, and a sequential scan looked cheaper. 9.4 s a batch, and 40 s to prune
12,678 runs, holding those rows locked, each hour more as the log grows.

The database here is small; its statistics are made to say what that one's did (ten
times fewer runs than there are, by ``n_distinct``: a run's events estimated at 200),
and the test counts the sequential scans of the run log that pruning started.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio
from db_helpers import new_database

from engine.migrations import migrate
from engine.retention import prune

RUNS = 10_000
EVENTS = 20  # a run's
OLD = 1_000  # runs finished long ago: what pruning deletes, in one batch


@pytest_asyncio.fixture(loop_scope="session")
async def history(database_url: str) -> AsyncIterator[str]:
    url = await new_database(database_url, "retention")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
    try:
        await migrate(pool)
        await pool.execute(
            """
            CREATE TEMPORARY TABLE seeded AS
            SELECT gen_random_uuid() AS eid,
                   now() - CASE WHEN i <= $2 THEN interval '400 days' ELSE interval '1 day' END AS at
              FROM generate_series(1, $1) AS i;
            INSERT INTO flowyard_runs (execution_id, workflow, status, created_at, finished_at)
            SELECT eid, 'shop', 'succeeded', at, at FROM seeded;
            INSERT INTO flowyard_run_events (execution_id, seq, type, data, at)
            SELECT eid, s, 'block_succeeded', '{"output": {"x": 1}}', at
              FROM seeded CROSS JOIN generate_series(1, $3) AS s;
            -- ANALYZE's estimate on a year's log: far fewer runs than there are.
            ALTER TABLE flowyard_run_events ALTER COLUMN execution_id SET (n_distinct = 1000);
            ANALYZE flowyard_run_events;
            ANALYZE flowyard_runs;
            """.replace("$1", str(RUNS))
            .replace("$2", str(OLD))
            .replace("$3", str(EVENTS))
        )
    finally:
        await pool.close()
    yield url


async def _log_scans(url: str) -> int:
    """Sequential scans of flowyard_run_events so far (every backend that used it
    has ended: their counts are flushed)."""
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'flowyard_run_events'"
            )
        )
    finally:
        await conn.close()


async def test_pruning_finds_the_runs_events_through_the_index(history: str) -> None:
    scans = await _log_scans(history)
    pool = await asyncpg.create_pool(history, min_size=1, max_size=1)
    try:
        runs, events = await prune(pool, 30 * 86400, batch=OLD)
        left = await pool.fetchval("SELECT count(*) FROM flowyard_run_events")
    finally:
        await pool.close()  # its backend ends: its statistics are flushed
    assert (runs, events) == (OLD, OLD * EVENTS)
    assert left == (RUNS - OLD) * EVENTS  # the count itself scans: after `scans`
    assert await _log_scans(history) - scans == 1, "pruning read the whole run log"


async def _run_scans(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval(
                "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'flowyard_runs'"
            )
        )
    finally:
        await conn.close()


async def test_a_prune_finds_the_old_runs_without_reading_every_run(history: str) -> None:
    """Every serve and worker prunes at its start and every hour; most prunes find
    little or nothing, and each read every run to find it. Several prunes on one
    connection: a prepared statement is planned generically after five."""
    scans = await _run_scans(history)
    pool = await asyncpg.create_pool(history, min_size=1, max_size=1)
    try:
        assert await prune(pool, 30 * 86400, batch=OLD) == (OLD, OLD * EVENTS)
        for _ in range(8):
            assert await prune(pool, 30 * 86400, batch=OLD) == (0, 0)
    finally:
        await pool.close()
    assert await _run_scans(history) == scans, "pruning read every run"
