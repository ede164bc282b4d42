"""A run whose process is killed with -9 is resumed and completed blocks do not run again."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from held_runs import HOLD, until

from engine.runtime import Runtime

WORKFLOW = """
name: crashy
blocks:
  start: {{type: manual}}
  count:
    type: function
    code: |
      with open({log!r}, "a") as f:
          f.write("count\\n")
      return {{"counted": True}}
  slow:
    type: function
    code: |
      import time
      with open({log!r}, "a") as f:
          f.write("slow\\n")
      time.sleep(<start.sleep>)
      return {{"slept": True}}
  after:
    type: function
    code: |
      with open({log!r}, "a") as f:
          f.write("after\\n")
      return {{"done": <count.counted>}}
edges: [start -> count, count -> slow, slow -> after]
"""


def _wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


async def test_kill_9_mid_run_then_resume(
    tmp_path: Path, database_url: str, runtime: Runtime
) -> None:
    log = tmp_path / "log.txt"
    wf = tmp_path / "crashy.yaml"
    wf.write_text(WORKFLOW.format(log=str(log)))
    env = {**os.environ, "DATABASE_URL": database_url}
    cli = [sys.executable, "-m", "ui.cli"]
    root = Path(__file__).resolve().parent.parent

    proc = subprocess.Popen([*cli, "run", str(wf), "--input", '{"sleep": 2}'], cwd=root, env=env)
    _wait_for(lambda: log.exists() and "slow" in log.read_text())
    time.sleep(0.8)  # let the run log's periodic flush record that `count` completed
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    eid = await runtime.db.pool.fetchval(
        "SELECT execution_id::text FROM flowyard_runs WHERE workflow = 'crashy' ORDER BY created_at DESC LIMIT 1"
    )
    assert (
        await runtime.db.pool.fetchval(
            "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid", eid
        )
        == "running"
    )

    resumed = subprocess.run(
        [*cli, "runs", "resume", eid],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{eid} succeeded" in resumed.stdout

    lines = log.read_text().split()
    assert lines.count("count") == 1  # completed before the crash: not run again
    assert lines.count("after") == 1
    assert lines.count("slow") == 2  # interrupted mid-way: run again on resume
    result = await runtime.run_result(eid)
    assert result["status"] == "succeeded"
    assert result["output"] == {"done": True}
    types = [e["type"] for e in await runtime.run_events(eid)]
    assert types.count("run_started") == 2 and types[-1] == "run_succeeded"


async def test_shutting_down_leaves_runs_to_resume_not_cancelled(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    wf_file = tmp_path / "slow.yaml"
    wf_file.write_text(
        "name: slow_shutdown\nblocks:\n  s: {type: manual}\n"
        "  wait: {type: function, code: 'import time; time.sleep(1); return 1'}\n"
        "  after: {type: condition, if: 'True'}\nedges: [s -> wait, wait -> after]\n"
    )
    first = Runtime(
        workspace / "workflows", database_url, workspace, function_workers=1, resume=False
    )
    await first.start()
    sub = await first.submit(first.load_workflow(wf_file), {})
    await asyncio.sleep(0.3)
    await first.close()  # a deploy or restart, mid-run
    second = Runtime(
        workspace / "workflows", database_url, workspace, function_workers=1, resume=False
    )
    await second.start()
    try:
        status = await second.db.log_pool.fetchval(
            "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid", sub.execution_id
        )
        assert status == "running"  # not cancelled: it is waiting to be resumed
        # The first runtime's owner id is this (live) test process; after a real restart
        # it would be a dead process of this host, which is what this stands for.
        await second.db.log_pool.execute(
            "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = $1::uuid",
            sub.execution_id,
            f"{socket.gethostname()}:1:1",
        )
        assert await second.resume_unfinished(sub.execution_id) == [sub.execution_id]
        result = await second.wait(sub.execution_id, timeout=30)
        assert result["status"] == "succeeded"
    finally:
        await second.close()


async def test_a_resumed_run_logs_each_skipped_block_once(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    """The branch a condition did not take was recorded skipped before the restart;
    the resumed run settles that condition again (its record is restored) and logged
    the same skips a second time. A resume does log `run_started` again: it marks
    where the resumed execution began (docs/engine.md, "Crash recovery")."""
    log, gate = tmp_path / "log", tmp_path / "gate"
    wf_file = tmp_path / "skips.yaml"
    wf_file.write_text(
        f"name: resumed_skips_{uuid.uuid4().hex[:8]}\nblocks:\n  s: {{type: manual}}\n"
        "  check: {type: condition, if: 'True'}\n"
        "  nope: {type: function, code: 'return 1'}\n"
        "  never: {type: function, code: 'return 2'}\n"
        + HOLD.format(log=str(log), gate=str(gate))
        + "\nedges: [s -> check, check.true -> hold, check.false -> nope, nope -> never]\n"
    )
    first = Runtime(
        workspace / "workflows", database_url, workspace, function_workers=1, resume=False
    )
    await first.start()
    eid = (await first.submit(first.load_workflow(wf_file), {})).execution_id

    async def skips_logged() -> bool:
        events = await first.run_events(eid)
        return sum(e["type"] == "block_skipped" for e in events) == 2

    assert await until(skips_logged)
    await first.close()  # a restart while `hold` runs
    second = Runtime(
        workspace / "workflows", database_url, workspace, function_workers=1, resume=False
    )
    await second.start()
    try:
        await second.db.log_pool.execute(  # the first runtime's process, as if it had died
            "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = $1::uuid",
            eid,
            f"{socket.gethostname()}:1:1",
        )
        gate.write_text("open")
        assert await second.resume_unfinished(eid) == [eid]
        result = await asyncio.wait_for(second.wait(eid), 30)
        assert result["status"] == "succeeded", result["error"]
        events = await second.run_events(eid)
    finally:
        await second.close()
    skipped = [e["block"] for e in events if e["type"] == "block_skipped"]
    assert sorted(skipped) == ["never", "nope"]
    assert [e["type"] for e in events].count("run_started") == 2
    assert {result["blocks"][b]["status"] for b in ("nope", "never")} == {"skipped"}
