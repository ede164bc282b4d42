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


async def test_runs_show_reads_no_inputs_or_outputs_of_the_paths_inside(
    run_yaml, runtime: Runtime
) -> None:
    from ui.cli_runs import _paths_inside

    done = await run_yaml(BIG_BODY, {"n": 2000})
    assert done["status"] == "succeeded", done["error"]
    tracemalloc.start()
    try:
        every = await _paths_inside(runtime, done["execution_id"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    inside = {p: r for p, r in every.items() if p.startswith("rounds[")}
    assert len(inside) == 2000
    assert {r["status"] for r in inside.values()} == {"succeeded"}
    assert {r["attempts"] for r in inside.values()} == {1}
    # Its whole log, ~16 MB of the body's outputs, was read before to print 2,000 lines.
    assert peak < 6_000_000, peak
