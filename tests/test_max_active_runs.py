"""FLOWYARD_MAX_ACTIVE_RUNS (engine/inflight.py): a process executes at most that many
runs at once; the others are accepted at once and wait `queued`, in order. Spans are
read from the database's clock, never a threshold on time.

Real embedded PostgreSQL (fixtures in tests/conftest.py); no mocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest_asyncio
from test_spec_concurrency import _most_at_once

from engine.model import Workflow
from engine.runtime import Runtime

NAP = "SELECT clock_timestamp() AS began, pg_sleep(<start.nap>), clock_timestamp() AS ended"


@pytest_asyncio.fixture(loop_scope="session")
async def runtime_of_two(workspace: Path, database_url: str) -> AsyncIterator[Runtime]:
    rt = Runtime(workspace / "workflows", database_url, workspace, resume=False, max_active_runs=2)
    await rt.start()
    yield rt
    await rt.close()


def _napping(write_workflow: Callable[[str], Workflow]) -> Workflow:
    return write_workflow(
        f"""
        name: napping
        blocks:
          start: {{type: manual}}
          nap: {{type: database, query: "{NAP}"}}
        edges: [start -> nap]
        """
    )


async def _statuses(rt: Runtime, ids: list[str]) -> list[str]:
    rows = await rt.db.pool.fetch(
        "SELECT execution_id::text AS id, status FROM flowyard_runs WHERE execution_id = ANY($1::uuid[])",
        ids,
    )
    by_id = {r["id"]: r["status"] for r in rows}
    return [by_id[i] for i in ids]


async def test_runs_past_the_limit_wait_queued_and_all_end(
    runtime_of_two: Runtime, write_workflow: Callable[[str], Workflow]
) -> None:
    rt, workflow = runtime_of_two, _napping(write_workflow)
    ids = [(await rt.submit(workflow, {"nap": 0.4})).execution_id for _ in range(5)]
    # All five are accepted at once; while two execute, the other three wait queued.
    for _ in range(200):
        statuses = await _statuses(rt, ids)
        if statuses.count("running") == 2:
            break
        await asyncio.sleep(0.02)
    assert statuses.count("running") == 2 and statuses.count("queued") == 3, statuses
    results = [await rt.wait(i) for i in ids]
    assert [r["status"] for r in results] == ["succeeded"] * 5
    spans = [(r["output"]["began"], r["output"]["ended"]) for r in results]
    assert _most_at_once(spans) == 2


async def test_runs_with_one_key_take_a_slot_only_in_their_turn(
    runtime_of_two: Runtime, write_workflow: Callable[[str], Workflow]
) -> None:
    """Runs of one key keep their order and run one at a time under the limit too,
    and a run without the key is not held up behind them."""
    rt, workflow = runtime_of_two, _napping(write_workflow)
    keyed = [
        (await rt.submit(workflow, {"nap": nap}, concurrency_key="order-1")).execution_id
        for nap in (1.0, 0.2, 0.2, 0.2)
    ]
    free = (await rt.submit(workflow, {"nap": 0.2})).execution_id
    results = await asyncio.wait_for(
        asyncio.gather(*(rt.wait(i) for i in [*keyed, free])), timeout=60
    )
    assert [r["status"] for r in results] == ["succeeded"] * 5
    ends = [(r["output"]["began"], r["output"]["ended"]) for r in results[:4]]
    assert ends == sorted(ends) and _most_at_once(ends) == 1  # the key's order, one at a time
    # The free run took the other slot at once, while the first of the key napped.
    assert results[4]["output"]["began"] < ends[0][1]


async def test_a_stop_leaves_the_runs_not_begun_queued(
    workspace: Path, database_url: str, write_workflow: Callable[[str], Workflow]
) -> None:
    """Stopping with a grace, the runs executing end; those still waiting for a slot
    are not begun only to be interrupted: they stay queued for the next start."""
    rt = Runtime(workspace / "workflows", database_url, workspace, resume=False, max_active_runs=1)
    await rt.start()
    workflow = _napping(write_workflow)
    try:
        ids = [(await rt.submit(workflow, {"nap": 0.5})).execution_id for _ in range(3)]
        for _ in range(200):
            if rt.runs_in_flight == 1:
                break
            await asyncio.sleep(0.02)
        assert (rt.runs_in_flight, rt.runs_waiting) == (1, 2)
    finally:
        await rt.close(grace=30)
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT status FROM flowyard_runs WHERE execution_id = ANY($1::uuid[])"
            " ORDER BY array_position($1::uuid[], execution_id)",
            ids,
        )
        assert [r["status"] for r in rows] == ["succeeded", "queued", "queued"]
    finally:
        # Ended, so that no later test's server (one database) resumes them.
        await conn.execute(
            "UPDATE flowyard_runs SET status = 'cancelled', finished_at = now()"
            " WHERE execution_id = ANY($1::uuid[]) AND status = 'queued'",
            ids,
        )
        await conn.close()
