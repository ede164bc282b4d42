"""When a block fails, its siblings with effects outside the run finish.

A black-box round found an INSERT outside any transaction group recorded
"failed · interrupted before it finished" although it had committed (its
cancellation came too late), and a re-run from the failed block inserted it
again. Now a sibling's failure lets such a block finish and records what it did;
pure blocks are still stopped at once, and cancelling the run still interrupts."""

from __future__ import annotations

import uuid

from engine.runtime import Runtime

TABLE = "CREATE TABLE IF NOT EXISTS effect_log (tag TEXT)"


async def test_an_insert_in_flight_when_a_sibling_fails_finishes_and_is_kept(
    run_yaml, runtime: Runtime
) -> None:
    tag = uuid.uuid4().hex
    await runtime.db.pool.execute(TABLE)
    wf = f"""
    name: effect_beside_failure
    blocks:
      start: {{type: manual}}
      write:
        type: database
        query: "INSERT INTO effect_log SELECT '{tag}' FROM pg_sleep(1) RETURNING tag"
      boom:
        type: function
        code: |
          import time
          time.sleep(0.3)  # the insert is in flight by then
          raise ValueError('boom')
      spin: {{type: function, code: "import time; time.sleep(5); return 1"}}
    edges: [start -> write, start -> boom, start -> spin]
    """
    result = await run_yaml(wf)
    assert result["status"] == "failed" and result["error"]["block"] == "boom"
    assert result["blocks"]["write"]["status"] == "succeeded"
    assert result["blocks"]["write"]["output"]["rows"] == [{"tag": tag}]
    assert result["blocks"]["spin"]["error"]["type"] == "Cancelled"  # pure: stopped at once
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["write"]["status"] == "succeeded"
    # A re-run from the failed block reuses the insert instead of repeating it.
    again = await runtime.wait((await runtime.rerun(result["execution_id"])).execution_id)
    assert again["blocks"]["write"]["status"] == "succeeded"
    count = "SELECT count(*) FROM effect_log WHERE tag = $1"
    assert await runtime.db.pool.fetchval(count, tag) == 1


async def test_a_branch_effect_in_flight_when_another_branch_fails_finishes(
    run_yaml, runtime: Runtime
) -> None:
    tag = uuid.uuid4().hex
    await runtime.db.pool.execute(TABLE)
    wf = f"""
    name: branch_effect_beside_failure
    blocks:
      start: {{type: manual}}
      fan: {{type: parallel, branches: {{writes: [write], fails: [boom]}}}}
      write:
        type: database
        query: "INSERT INTO effect_log SELECT '{tag}' FROM pg_sleep(1) RETURNING tag"
      boom:
        type: function
        code: |
          import time
          time.sleep(0.3)  # the insert is in flight by then
          raise ValueError('boom')
    edges: [start -> fan]
    """
    result = await run_yaml(wf)
    assert result["status"] == "failed"
    stored = await runtime.run_result(result["execution_id"])
    events = await runtime.db.pool.fetch(
        "SELECT type, block FROM flowyard_run_events WHERE execution_id = $1 AND block LIKE $2",
        result["execution_id"],
        "fan[writes].write",
    )
    assert ("block_succeeded", "fan[writes].write") in [tuple(e) for e in events], stored
    count = "SELECT count(*) FROM effect_log WHERE tag = $1"
    assert await runtime.db.pool.fetchval(count, tag) == 1


async def test_cancelling_the_run_still_interrupts_an_effect(
    runtime: Runtime, write_workflow
) -> None:
    import asyncio

    tag = uuid.uuid4().hex
    await runtime.db.pool.execute(TABLE)
    wf = write_workflow(f"""
    name: cancel_effect
    blocks:
      start: {{type: manual}}
      write:
        type: database
        query: "INSERT INTO effect_log SELECT '{tag}' FROM pg_sleep(30) RETURNING tag"
    edges: [start -> write]
    """)
    sub = await runtime.submit(wf, {})
    while (await runtime.db.pool.fetchval(
        "SELECT count(*) FROM flowyard_run_events WHERE execution_id = $1 AND type = 'block_started'"
        " AND block = 'write'", sub.execution_id)) == 0:  # fmt: skip
        await asyncio.sleep(0.05)
    assert await runtime.cancel(sub.execution_id)
    result = await runtime.wait(sub.execution_id, timeout=10)
    assert result["status"] == "cancelled"
    assert result["blocks"]["write"]["error"]["type"] == "Cancelled"
    count = "SELECT count(*) FROM effect_log WHERE tag = $1"
    assert await runtime.db.pool.fetchval(count, tag) == 0
