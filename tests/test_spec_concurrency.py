"""SPEC.md: "Independent blocks run concurrently (asyncio)", and `max_concurrency`
bounds it. Spans are read from the database's clock, never a threshold on time.

Real embedded PostgreSQL (fixtures in tests/conftest.py); no mocks.
"""

from __future__ import annotations

import pytest

NAP = "SELECT clock_timestamp() AS began, pg_sleep(0.3), clock_timestamp() AS ended"


def _most_at_once(spans: list[tuple[str, str]]) -> int:
    """The most spans (ISO start, ISO end) open at one moment."""
    edges = sorted([(b, 1) for b, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


async def test_independent_blocks_run_concurrently(run_yaml) -> None:
    """ "Independent blocks run concurrently (asyncio)": their time spans overlap
    (read from the database's clock, not a threshold on how long the run took)."""
    wf = f"""
    name: side_by_side
    blocks:
      start: {{type: manual}}
      one: {{type: database, query: "{NAP}"}}
      two: {{type: database, query: "{NAP}"}}
    edges: [start -> one, start -> two]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    one, two = (result["blocks"][b]["output"] for b in ("one", "two"))
    assert _most_at_once([(one["began"], one["ended"]), (two["began"], two["ended"])]) == 2


@pytest.mark.parametrize("limit", [1, 4])
async def test_parallel_max_concurrency(run_yaml, limit: int) -> None:
    """`parallel` `max_concurrency` bounds how many items run at once (their spans
    by the database's clock): never more than the limit; with room, more than one."""
    wf = f"""
    name: bounded
    blocks:
      start: {{type: manual}}
      fan: {{type: parallel, items: [1, 2, 3, 4], max_concurrency: {limit}, body: [nap]}}
      nap: {{type: database, query: "{NAP}, <item>::int AS n"}}
    edges: [start -> fan]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    results = result["output"]["results"]
    assert [r["n"] for r in results] == [1, 2, 3, 4]
    most = _most_at_once([(r["began"], r["ended"]) for r in results])
    assert most == 1 if limit == 1 else 1 < most <= limit
