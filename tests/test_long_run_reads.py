"""Reading a long run back costs what its answer holds, not what its log holds: a
loop's body writes two events per iteration, and the run's result (`GET
/api/runs/<id>`, a sync wait's polls, `flowyard run`) only shows its top-level
blocks (real embedded PostgreSQL)."""

from __future__ import annotations

import tracemalloc

from engine.runtime import Runtime

#: 2,000 iterations whose body returns ~4 KB each: ~16 MB of events inside the loop.
BIG_BODY = """
name: big_body_loop
blocks:
  start: {type: manual}
  rounds:
    type: loop
    count: <input.n>
    body: [step]
    collect: false
  step:
    type: function
    isolation: inline
    code: |
      return {"text": "x" * 4000}
edges: [start -> rounds]
output: <rounds.iterations>
"""


async def test_a_run_result_does_not_read_the_events_inside_its_loops(
    run_yaml, runtime: Runtime
) -> None:
    done = await run_yaml(BIG_BODY, {"n": 2000})
    assert done["status"] == "succeeded", done["error"]
    assert done["output"] == 2000

    tracemalloc.start()
    try:
        result = await runtime.run_result(done["execution_id"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result is not None
    assert result["blocks"]["rounds"]["status"] == "succeeded"
    assert result["blocks"]["rounds"]["output"]["iterations"] == 2000
    assert list(result["blocks"]) == ["start", "rounds"]
    # The ~16 MB of the body's events were all read (and decoded) before.
    assert peak < 2_000_000, peak
