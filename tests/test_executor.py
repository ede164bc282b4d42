"""The executor on a real PostgreSQL: branches, joins, containers, retries, timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.runtime import Runtime


async def test_condition_skips_a_branch_and_the_join_runs(run_yaml) -> None:
    wf = """
    name: branches
    blocks:
      start: {type: manual}
      route: {type: condition, if: "<start.amount> > 100"}
      big:
        type: function
        code: |
          return {"label": "big"}
      small:
        type: function
        code: |
          return {"label": "small"}
      join:
        type: function
        code: |
          return {"label": <big.label?> or <small.label?>}
    edges: [start -> route, route.true -> big, route.false -> small, big -> join, small -> join]
    """
    result = await run_yaml(wf, {"amount": 5})
    assert result["status"] == "succeeded"
    assert result["started_at"] <= result["finished_at"]  # ISO timestamps, as the SPEC's result
    assert result["blocks"]["big"]["status"] == "skipped"
    assert result["blocks"]["small"]["status"] == "succeeded"
    assert result["output"] == {"label": "small"}


async def test_cases_and_else(run_yaml) -> None:
    wf = """
    name: cases
    blocks:
      start: {type: manual}
      route:
        type: condition
        cases: [{name: low, if: "<start.n> < 10"}, {name: mid, if: "<start.n> < 100"}]
        else: high
      low: {type: function, code: "return 'low'"}
      mid: {type: function, code: "return 'mid'"}
      high: {type: function, code: "return 'high'"}
    edges: [start -> route, route.low -> low, route.mid -> mid, route.high -> high]
    """
    assert (await run_yaml(wf, {"n": 50}))["output"] == {"result": "mid"}
    assert (await run_yaml(wf, {"n": 500}))["output"] == {"result": "high"}


async def test_nested_loop_in_parallel_with_accumulate(run_yaml) -> None:
    wf = """
    name: nested
    blocks:
      start: {type: manual}
      fan:
        type: parallel
        items: <start.groups>
        as: group
        body: [total]
        max_concurrency: 2
      total:
        type: loop
        items: <group>
        as: x
        body: [add]
        accumulate: {initial: 0, next: <add.sum>}
      add:
        type: function
        code: |
          return {"sum": <state> + <x> * 10 + <loop.index>}
    edges: [start -> fan]
    output: <fan.results>
    """
    result = await run_yaml(wf, {"groups": [[1, 2], [3], []]})
    assert result["status"] == "succeeded", result["error"]
    assert [r["state"] for r in result["output"]] == [31, 30, 0]
    assert [r["iterations"] for r in result["output"]] == [2, 1, 0]


async def test_loop_count_while_and_max_iterations(run_yaml) -> None:
    wf = """
    name: loops
    blocks:
      start: {type: manual}
      twice: {type: loop, count: 3, body: [idx]}
      idx: {type: function, code: "return {'i': <loop.index>}"}
      grow:
        type: loop
        collect: false
        while: "<state> < 100"
        body: [double]
        accumulate: {initial: 1, next: <double.v>}
      double: {type: function, code: "return {'v': <state> * 2}"}
      runaway: {type: loop, while: "True", max_iterations: 5, body: [noop]}
      noop: {type: condition, if: "True"}
    edges: [start -> twice, twice -> grow, grow -> runaway]
    """
    result = await run_yaml(wf)
    assert result["blocks"]["twice"]["output"]["results"] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert result["blocks"]["grow"]["output"]["state"] == 128
    assert result["blocks"]["grow"]["output"]["results"] == []  # collect: false keeps only the fold
    assert result["blocks"]["grow"]["output"]["iterations"] == 7
    assert result["status"] == "failed"
    assert "max_iterations=5" in result["error"]["message"]


async def test_retries_with_backoff(run_yaml, tmp_path: Path) -> None:
    marker = tmp_path / "attempts"
    wf = f"""
    name: flaky
    blocks:
      start: {{type: manual}}
      flaky:
        type: function
        retries: 3
        retry_backoff: 0.05
        code: |
          import pathlib
          p = pathlib.Path({str(marker)!r})
          n = int(p.read_text()) + 1 if p.exists() else 1
          p.write_text(str(n))
          if n < 3:
              raise RuntimeError(f"attempt {{n}} fails")
          return {{"attempt": n}}
    edges: [start -> flaky]
    """
    t0 = time.monotonic()
    result = await run_yaml(wf)
    assert result["status"] == "succeeded"
    assert result["blocks"]["flaky"]["attempts"] == 3
    assert result["output"] == {"attempt": 3}
    assert time.monotonic() - t0 >= 0.05 + 0.1  # backoff 0.05 then 0.1 s


async def test_failure_after_retries_fails_the_run_with_the_error(run_yaml) -> None:
    wf = """
    name: broken
    blocks:
      start: {type: manual}
      boom: {type: function, retries: 1, retry_backoff: 0.01, code: "raise ValueError('no luck')"}
      after: {type: function, code: "return 1"}
    edges: [start -> boom, boom -> after]
    """
    result = await run_yaml(wf)
    assert result["status"] == "failed"
    assert result["error"]["block"] == "boom" and result["error"]["type"] == "ValueError"
    assert "no luck" in result["error"]["message"]
    assert result["blocks"]["boom"]["attempts"] == 2
    # Never reached: still `pending` (SPEC: pending → running → …), never run.
    assert result["blocks"]["after"]["status"] == "pending"
    assert result["blocks"]["after"]["attempts"] == 0


async def test_on_error_continue_takes_the_error_port(run_yaml) -> None:
    wf = """
    name: handled
    blocks:
      start: {type: manual}
      boom: {type: function, on_error: continue, code: "raise ValueError('bad')"}
      ok: {type: function, code: "return 'ok'"}
      handle: {type: function, code: "return {'caught': <boom.error.message>}"}
    edges: [start -> boom, boom -> ok, boom.error -> handle]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded"
    assert result["blocks"]["ok"]["status"] == "skipped"
    assert "bad" in result["output"]["caught"]


async def test_timeout_kills_runaway_code(run_yaml, runtime: Runtime) -> None:
    wf = """
    name: runaway
    blocks:
      start: {type: manual}
      spin: {type: function, timeout: 1, code: "while True: pass"}
    edges: [start -> spin]
    """
    t0 = time.monotonic()
    result = await run_yaml(wf)
    elapsed = time.monotonic() - t0
    assert result["status"] == "failed"
    assert result["error"]["type"] == "TimeoutError"
    assert elapsed < 1 + 1  # the SPEC's bound: timeout + 1 s
    # the pool replaced the killed worker: functions still run
    again = await run_yaml(
        "name: ok\nblocks:\n  s: {type: manual}\n  f: {type: function, code: 'return 2'}\nedges: [s -> f]\n"
    )
    assert again["output"] == {"result": 2}


async def test_run_result_read_back_matches(run_yaml, runtime: Runtime) -> None:
    result = await run_yaml(
        "name: rb\nblocks:\n  s: {type: manual}\n  f: {type: function, code: 'return {\"x\": 1}'}\nedges: [s -> f]\n"
    )
    stored = await runtime.run_result(result["execution_id"])
    assert stored["status"] == "succeeded"
    assert stored["output"] == {"x": 1}
    assert stored["blocks"]["f"]["status"] == "succeeded" and stored["blocks"]["f"]["output"] == {
        "x": 1
    }
    types = [e["type"] for e in await runtime.run_events(result["execution_id"])]
    assert types[0] == "run_queued" and types[1] == "run_started" and types[-1] == "run_succeeded"


# 0.5 s wakes the idle watchdog; 1.5 s is past its next look, so it is armed silently.
@pytest.mark.parametrize("timeout", [0.5, 1.5])
async def test_inline_function_runs_and_its_timeout_interrupts_runaway_code(
    run_yaml, timeout: float
) -> None:
    wf = f"""
    name: inline
    blocks:
      start: {{type: manual}}
      quick:
        type: function
        isolation: inline
        code: |
          data = dict(input.start)
          data["seen"] = True
          print("inline")
          return {{"n": <start.n> + 1, "data": data}}
      spin: {{type: function, isolation: inline, timeout: {timeout}, code: "while True: pass"}}
    edges: [start -> quick, quick -> spin]
    """
    result = await run_yaml(wf, {"n": 1})
    assert result["blocks"]["quick"]["output"] == {
        "n": 2,
        "data": {"n": 1, "seen": True},
        "stdout": "inline\n",
    }
    assert result["blocks"]["start"]["output"] == {
        "n": 1
    }  # the function's copy was changed, not the run's
    assert result["status"] == "failed" and result["error"]["type"] == "TimeoutError"
    assert result["error"]["block"] == "spin"


async def test_rerun_from_the_failed_block_reuses_what_succeeded(
    run_yaml, runtime: Runtime, tmp_path: Path
) -> None:
    count, gate = tmp_path / "count", tmp_path / "gate"
    wf = f"""
    name: rerunnable
    blocks:
      start: {{type: manual}}
      once:
        type: function
        code: |
          with open({str(count)!r}, "a") as f:
              f.write("x")
          return {{"token": <start.token>}}
      gated:
        type: function
        code: |
          import os
          if not os.path.exists({str(gate)!r}):
              raise RuntimeError("gate closed")
          return {{"got": <once.token>}}
    edges: [start -> once, once -> gated]
    """
    first = await run_yaml(wf, {"token": "t-1"})
    assert first["status"] == "failed" and first["error"]["block"] == "gated"
    gate.write_text("open")
    sub = await runtime.rerun(first["execution_id"], from_failed=True)
    again = await runtime.wait(sub.execution_id)
    assert again["status"] == "succeeded"
    assert again["output"] == {"got": "t-1"}  # same input, carried-over output
    assert count.read_text() == "x"  # the block that had succeeded did not run again
    stored = await runtime.run_result(sub.execution_id)
    assert stored["blocks"]["once"]["status"] == "succeeded"
    # The record says where the result came from (the API and `runs show` read it).
    assert stored["blocks"]["once"]["reused_from"] == first["execution_id"]
    assert stored["blocks"]["gated"]["reused_from"] is None
    assert stored["input"] == {"token": "t-1"} and stored["file"].endswith(".yaml")


async def test_cancel_ends_the_run_cancelled_and_rolls_back(
    runtime: Runtime, write_workflow
) -> None:
    import asyncio

    wf = write_workflow(
        """
        name: cancellable
        blocks:
          start: {type: manual}
          hold: {type: database, transaction: t, query: "SELECT pg_sleep(5) AS slept"}
        edges: [start -> hold]
        """
    )
    sub = await runtime.submit(wf, {})
    await asyncio.sleep(0.5)
    assert await runtime.cancel(sub.execution_id)
    result = await runtime.wait(sub.execution_id, timeout=10)
    assert result["status"] == "cancelled"
    stored = await runtime.run_result(sub.execution_id)
    assert stored["status"] == "cancelled"
    assert not await runtime.cancel(sub.execution_id)  # nothing left to cancel


def test_function_ships_only_the_input_fields_its_code_reads() -> None:
    from blocks.function import input_names

    assert input_names('return input.webhook.body.x + input["start"].n') == {"webhook", "start"}
    assert input_names("return 1") == frozenset()
    # `input` used as a whole: everything visible is sent
    assert input_names("return dict(input)") is None
    assert input_names('return input.get("a")') is None
    assert input_names("return input[key]") is None
