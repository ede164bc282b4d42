"""A long loop of blocks that never suspend (inline Functions, Conditions) shares the
engine: its iterations give the event loop a turn, so other runs, the heartbeat, the
periodic flush, a timeout and a cancel all go on; and a state that grows with each
step is written as it goes instead of piling up in memory (real embedded PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from held_runs import until

from blocks.loop import FOLD_STEP_CHARS
from engine import recorder
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

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


#: A fold whose state grows by 1,000 characters a step; step {hold_at} writes "hold"
#: and waits for {gate}. Each step writes its index to {log}.
LOGGED_FOLD = """
name: {name}
blocks:
  start: {{type: manual}}
  fold:
    type: loop
    count: <input.n>
    body: [step]
    collect: false
    accumulate:
      initial: {{items: []}}
      next: <step.state>
  step:
    type: function
    timeout: 120
    code: |
      import os, time
      with open({log!r}, "a") as f:
          f.write(f"{{<loop.index>}}\\n")
      if <loop.index> == {hold_at}:
          with open({log!r}, "a") as f:
              f.write("hold\\n")
          while not os.path.exists({gate!r}):
              time.sleep(0.05)
      return {{"state": {{"items": <state>["items"] + ["x" * 1000]}}}}
edges: [start -> fold]
output: <fold.state>
"""


async def _step_events(runtime: Runtime, execution_id: str) -> list[dict]:
    rows = await runtime.db.pool.fetch(
        "SELECT block, data::text AS text FROM flowyard_run_events WHERE execution_id = $1::uuid"
        " AND type = 'block_succeeded' AND block LIKE 'fold[%' ORDER BY seq",
        execution_id,
    )
    return [{"block": r["block"], "chars": len(r["text"]), **json.loads(r["text"])} for r in rows]


async def test_a_fold_records_each_step_up_to_a_size_and_its_whole_state_once(
    run_yaml, runtime: Runtime, tmp_path
) -> None:
    log = tmp_path / "steps.txt"
    wf = LOGGED_FOLD.format(name="capped_fold", log=str(log), gate="", hold_at=-1)
    result = await run_yaml(wf, {"n": 120})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"items": ["x" * 1000] * 120}  # the loop's record: whole
    steps = await _step_events(runtime, result["execution_id"])
    assert [s["block"] for s in steps] == [f"fold[{i}].step" for i in range(120)]
    assert all(s["chars"] < FOLD_STEP_CHARS + 1000 for s in steps)
    # The state is in a step's record twice (read and returned): kept while under the
    # limit, then a note in its place.
    kept = [s for s in steps if not s.get("omitted")]
    assert kept == steps[: len(kept)] and 25 <= len(kept) <= 33
    assert kept[-1]["output"]["state"]["items"] == ["x" * 1000] * len(kept)
    note = steps[-1]["output"]["omitted"]
    assert note.startswith("not recorded: ") and "a step of a fold keeps" in note
    assert log.read_text().split() == [str(i) for i in range(120)]


async def test_a_resumed_fold_runs_again_only_the_steps_it_did_not_keep(
    runtime: Runtime, database_url: str, tmp_path
) -> None:
    log, gate = tmp_path / "steps.txt", tmp_path / "gate"
    wf = tmp_path / "resumed_fold.yaml"
    wf.write_text(LOGGED_FOLD.format(name="resumed_fold", log=str(log), gate=str(gate), hold_at=40))
    env = {**os.environ, "DATABASE_URL": database_url}
    cli = [sys.executable, "-m", "ui.cli"]
    proc = subprocess.Popen([*cli, "run", str(wf), "--input", '{"n": 50}'], cwd=ROOT, env=env)
    try:
        assert await until(lambda: log.exists() and "hold" in log.read_text())
        await asyncio.sleep(0.8)  # the periodic flush records the steps before it
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    gate.touch()
    eid = await runtime.db.pool.fetchval(
        "SELECT execution_id::text FROM flowyard_runs WHERE workflow = 'resumed_fold'"
        " ORDER BY created_at DESC LIMIT 1"
    )
    kept = [s for s in await _step_events(runtime, eid) if not s.get("omitted")]
    assert 25 <= len(kept) <= 33

    resumed = subprocess.run(
        [*cli, "runs", "resume", eid], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    result = await runtime.run_result(eid)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"items": ["x" * 1000] * 50}  # every step folded once
    runs = [int(line) for line in log.read_text().split() if line != "hold"]
    # Kept steps are reused; the rest up to the one interrupted are run again, from
    # the last kept state.
    assert runs == [*range(41), *range(len(kept), 50)]


async def test_a_failing_step_of_a_fold_keeps_its_error_but_not_a_state_past_the_limit(
    run_yaml, runtime: Runtime
) -> None:
    wf = """
name: failing_steps
blocks:
  start: {type: manual}
  fold:
    type: loop
    count: 100
    body: [check, grow]
    collect: false
    accumulate:
      initial: {items: []}
      next: <grow.state>
  check:
    type: function
    isolation: inline
    on_error: continue
    code: |
      raise ValueError(f"{len(<state>['items'])} items, all unchecked")
  grow:
    type: function
    isolation: inline
    code: |
      return {"state": {"items": <state>["items"] + ["x" * 1000]}}
edges: [start -> fold, check -> grow]
output: <fold.iterations>
"""
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    rows = await runtime.db.pool.fetch(
        "SELECT data::text AS text FROM flowyard_run_events WHERE execution_id = $1::uuid"
        " AND type = 'block_failed' ORDER BY seq",
        result["execution_id"],
    )
    failures = [json.loads(r["text"]) for r in rows]
    assert len(failures) == 100
    assert all(len(r["text"]) < FOLD_STEP_CHARS + 1000 for r in rows)
    assert failures[0]["inputs"] == {"<state>": {"items": []}}
    last = failures[-1]
    assert last["omitted"] and last["handled"] and last["port"] == "default"
    assert last["error"]["message"] == "99 items, all unchecked (line 1)"
