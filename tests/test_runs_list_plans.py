"""Listing runs of a long history reads a page's worth of rows, whatever the filter.

A shop running flowyard for a year has about a million runs. `GET /api/runs` (the
/runs page polls it every 3 s, with the page's filter) and `flowyard runs` send one
prepared statement per connection; PostgreSQL plans a prepared statement generically
after a few executions. One statement for every filter (``$1 IS NULL OR workflow =
…``) then walked the whole run index for a workflow with few runs, a status no recent
run has, or a ``before`` near the oldest run: 0.25-1.1 s each on a million runs.

Each listing here is explained as PostgreSQL runs it once it is planned generically
(``plan_cache_mode = force_generic_plan``, what a long-lived pool's connections come
to), and the rows its scans read are counted: a page's worth, not the history's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from db_helpers import new_database

from engine import runstore
from engine.migrations import migrate

HISTORY = 30_000  # runs of 50 workflows, one a minute, the newest first
RARE = 3  # runs of workflow "rare", and cancelled runs: all among the oldest
PAGE = 20


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def history(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A database with a long run history: busy workflows, a rare one and a rare
    status, both only among the oldest runs."""
    pool = await asyncpg.create_pool(
        await new_database(database_url, "history"), min_size=1, max_size=2
    )
    try:
        await migrate(pool)
        await pool.execute(
            """
            INSERT INTO flowyard_runs (execution_id, workflow, status, created_at, finished_at)
            SELECT gen_random_uuid(),
                   CASE WHEN i > $1 - $2 THEN 'rare' WHEN i % 50 = 0 THEN 'busy'
                        WHEN i % 50 = 1 THEN 'Busy Title' ELSE 'wf-' || i % 50 END,
                   CASE WHEN i > $1 - $2 THEN 'cancelled' WHEN i % 7 = 0 THEN 'failed'
                        ELSE 'succeeded' END,
                   now() - make_interval(mins => i), now() - make_interval(mins => i)
              FROM generate_series(1, $1) AS i
            """,
            HISTORY,
            RARE,
        )
        await pool.execute("VACUUM ANALYZE flowyard_runs")  # as autovacuum keeps it
        yield pool
    finally:
        await pool.close()


def _rows_read(plan: dict[str, Any]) -> int:
    """Rows the plan's scans produced or read past (a filter's removed rows)."""
    loops = plan.get("Actual Loops", 1)
    read = 0
    if "Scan" in plan["Node Type"]:
        read = (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)) * loops
    return int(read) + sum(_rows_read(p) for p in plan.get("Plans", ()))


def _literal(value: Any) -> str:
    """``value`` as SQL (EXECUTE takes no bind parameters); the test's values hold no quote."""
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(map(_literal, value)) + "]::text[]"
    return f"'{value}'"


async def _generic_rows_read(pool: asyncpg.Pool, sql: str, args: list[Any]) -> int:
    async with pool.acquire() as conn:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        try:
            await conn.execute(f"PREPARE listing AS {sql}")
            values = ", ".join(map(_literal, args))
            explained = await conn.fetchval(
                f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE listing({values})"
            )
        finally:
            await conn.execute("DEALLOCATE listing; RESET plan_cache_mode")
    return _rows_read(json.loads(explained)[0]["Plan"])


async def _oldest(pool: asyncpg.Pool) -> asyncpg.Record:
    return await pool.fetchrow(
        "SELECT created_at, execution_id FROM flowyard_runs ORDER BY created_at LIMIT 1"
    )


@pytest.mark.parametrize(
    ("workflows", "status", "before_oldest"),
    [
        (None, None, False),
        (["rare"], None, False),
        (["rare", "rare title"], None, False),
        (["busy", "Busy Title"], None, False),
        (None, "cancelled", False),
        (None, "queued", False),
        (["busy"], "failed", False),
        (None, None, True),
        (["busy", "Busy Title"], "succeeded", True),
    ],
)
async def test_a_listing_reads_a_page_not_the_history(
    history: asyncpg.Pool, workflows: list[str] | None, status: str | None, before_oldest: bool
) -> None:
    cursor = await _oldest(history) if before_oldest else None
    sql, args = runstore.list_statement(workflows, status, cursor, PAGE)
    read = await _generic_rows_read(history, sql, args)
    # A page is 20 runs (of each name, merged), a filter on the index read past some more.
    assert read <= 20 * PAGE, f"listing {workflows} {status} read {read:,} rows of {HISTORY:,}"


async def test_paging_a_workflow_known_by_two_names_gives_each_run_once_in_order(
    history: asyncpg.Pool,
) -> None:
    """Its runs recorded under its file name and its title are one list, newest first,
    each run once, also while new runs arrive between pages (they are newer: not on
    the pages after the first)."""
    expected = [
        str(r["execution_id"])
        for r in await history.fetch(
            "SELECT execution_id FROM flowyard_runs WHERE workflow IN ('busy', 'Busy Title')"
            " AND created_at > now() - interval '3000 minutes'"
            " ORDER BY created_at DESC, execution_id DESC"
        )
    ]
    listed: list[str] = []
    before = None
    while len(listed) < len(expected):
        page = await runstore.list_runs(history, ["busy", "Busy Title"], None, 7, before)
        listed += [r["execution_id"] for r in page]
        before = page[-1]["execution_id"]
        await history.execute(  # a run arriving while a client pages
            "INSERT INTO flowyard_runs (execution_id, workflow, status)"
            " VALUES (gen_random_uuid(), 'busy', 'queued')"
        )
    assert listed[: len(expected)] == expected
    assert len(set(listed)) == len(listed)
