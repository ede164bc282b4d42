"""A parallel over many items holds no more of them at once than it runs: its tasks
are its `max_concurrency`, not one per item (real embedded PostgreSQL)."""

from __future__ import annotations

from engine.runtime import Runtime

#: Each item's body counts the event loop's tasks while it runs.
COUNTED = """
name: {name}
blocks:
  start: {{type: manual}}
  make:
    type: function
    isolation: inline
    code: |
      return {{"items": list(range(input.start.n))}}
  fan:
    type: parallel
    items: <make.items>
    body: [count]
    max_concurrency: 4
    {on_error}
  count:
    type: function
    isolation: inline
    code: |
      import asyncio
      if <item> == input.start.get("fail_at", -1):
          raise ValueError("item failed")
      return {{"tasks": len(asyncio.all_tasks())}}
edges: [start -> make, make -> fan]
output: <fan>
"""


async def test_a_parallel_over_many_items_does_not_start_a_task_per_item(run_yaml) -> None:
    result = await run_yaml(COUNTED.format(name="many_items", on_error=""), {"n": 2000})
    assert result["status"] == "succeeded", result["error"]
    results = result["output"]["results"]
    assert len(results) == 2000
    # One waiting task per item before: 2,000 and more.
    assert max(r["tasks"] for r in results) < 200


async def test_results_and_errors_keep_the_items_order(run_yaml) -> None:
    text = COUNTED.format(name="many_items_errors", on_error="on_error: continue")
    result = await run_yaml(text, {"n": 50, "fail_at": 7})
    assert result["status"] == "succeeded", result["error"]
    output = result["output"]
    assert len(output["results"]) == 50
    assert output["results"][7] is None
    assert all(r is not None for i, r in enumerate(output["results"]) if i != 7)
    assert [e["index"] for e in output["errors"]] == [7]


async def test_a_failed_item_stops_the_parallel(run_yaml, runtime: Runtime) -> None:
    result = await run_yaml(
        COUNTED.format(name="many_items_fail", on_error=""), {"n": 500, "fail_at": 3}
    )
    assert result["status"] == "failed"
    assert "item failed" in result["error"]["message"]
    started = await runtime.db.pool.fetchval(
        "SELECT count(*) FROM flowyard_run_events WHERE execution_id = $1::uuid"
        " AND type = 'block_started' AND block LIKE 'fan[%'",
        result["execution_id"],
    )
    assert started < 500
