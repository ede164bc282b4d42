"""A long loop of blocks that never suspend (inline Functions, Conditions) shares the
engine: its iterations give the event loop a turn, so other runs, the heartbeat, the
periodic flush, a timeout and a cancel all go on; and a state that grows with each
step is written as it goes instead of piling up in memory (real embedded PostgreSQL)."""

from __future__ import annotations

import asyncio

from engine import recorder
from engine.runtime import Runtime

#: A loop whose body is one Condition: nothing in it ever suspends.
CHECKS = """
name: {name}
blocks:
  start: {{type: manual}}
  checks:
    type: loop
    count: <input.n>
    body: [check]
    max_iterations: 1000000
    collect: false
    {timeout}
  check:
    type: condition
    if: <loop.index> >= 0
edges: [start -> checks]
output: <checks.iterations>
"""

#: A fold of inline Functions whose state grows by ~100 characters a step.
GROWING_FOLD = """
name: growing_fold
blocks:
  start: {type: manual}
  fold:
    type: loop
    count: <input.n>
    body: [step]
    collect: false
    accumulate:
      initial: {items: []}
      next: <step.state>
  step:
    type: function
    isolation: inline
    code: |
      return {"state": {"items": <state>["items"] + ["x" * 100]}}
edges: [start -> fold]
output: <fold.iterations>
"""


def checks(name: str, timeout: str = "") -> str:
    return CHECKS.format(name=name, timeout=timeout)


async def _steps(runtime: Runtime, execution_id: str) -> int:
    return await runtime.db.pool.fetchval(
        "SELECT count(*) FROM flowyard_run_events WHERE execution_id = $1::uuid"
        " AND type = 'block_succeeded' AND block LIKE 'checks[%'",
        execution_id,
    )


async def test_other_work_goes_on_between_the_iterations_of_a_pure_loop(
    run_yaml, runtime: Runtime
) -> None:
    seen: set[int] = set()  # the points of the run's log another task found it at

    async def other_work() -> None:
        while True:
            seen.update(rec.seq for rec in list(runtime._runs.recorders.values()))
            await asyncio.sleep(0)

    other = asyncio.create_task(other_work())
    try:
        result = await run_yaml(checks("pure_loop"), {"n": 2000})
    finally:
        other.cancel()
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == 2000
    # Each iteration appends two events and yields once; before, the other task had
    # no turn from the loop's first iteration to its last.
    assert len(seen) >= 1000


async def test_a_timeout_stops_a_loop_of_blocks_that_never_suspend(
    run_yaml, runtime: Runtime, monkeypatch
) -> None:
    # No flush for a full buffer either (it awaits the database): the loop's own
    # turns are what let the timeout in.
    monkeypatch.setattr(recorder, "FLUSH_AT_EVENTS", 10**9)
    result = await run_yaml(checks("timed_loop", timeout="timeout: 0.5"), {"n": 300_000})
    assert result["status"] == "failed"
    assert result["error"]["block"] == "checks"
    assert result["error"]["message"] == "timed out after 0.5 s"
    assert 0 < await _steps(runtime, result["execution_id"]) < 300_000


async def test_a_cancel_stops_a_loop_of_blocks_that_never_suspend(
    runtime: Runtime, write_workflow, monkeypatch
) -> None:
    monkeypatch.setattr(recorder, "FLUSH_AT_EVENTS", 10**9)
    sub = await runtime.submit(write_workflow(checks("cancelled_loop")), {"n": 300_000})
    eid = sub.execution_id
    for _ in range(200):  # until the loop is under way
        await asyncio.sleep(0.05)
        if await _steps(runtime, eid):
            break
    assert await runtime.cancel(eid) == "cancelling"
    result = await runtime.wait(eid)
    assert result["status"] == "cancelled"
    assert 0 < await _steps(runtime, eid) < 300_000


async def test_a_state_that_grows_is_written_as_the_fold_goes(
    run_yaml, runtime: Runtime, monkeypatch
) -> None:
    # Each step's event holds the whole state twice (its input and its output): 200
    # steps of ~100 characters more each make ~4 MB of events, written whenever
    # 20,000 characters are waiting instead of held until the run ends.
    monkeypatch.setattr(recorder, "FLUSH_AT_CHARS", 20_000)
    result = await run_yaml(GROWING_FOLD, {"n": 200})
    assert result["status"] == "succeeded", result["error"]
    writes = await runtime.db.pool.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM flowyard_run_events WHERE execution_id = $1::uuid",
        result["execution_id"],
    )
    assert writes >= 50
