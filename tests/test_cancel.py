"""Cancelling a run wherever it executes: in this process, in another one (a NOTIFY
reaches it), or not begun by anyone (ended in the database); `flowyard runs cancel`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from held_runs import HELD, until

from engine.model import Workflow
from engine.runtime import Runtime


def _held(tmp_path: Path, write_workflow):
    log, gate = tmp_path / "log", tmp_path / "gate"
    wf = write_workflow(HELD.format(suffix=uuid.uuid4().hex[:8], log=str(log), gate=str(gate)))
    return wf, log, gate


async def _status(runtime: Runtime, eid: str) -> str:
    return await runtime.db.log_pool.fetchval(
        "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid", eid
    )


async def test_a_run_this_process_holds_is_cancelled(
    runtime: Runtime, write_workflow, tmp_path: Path
) -> None:
    wf, log, gate = _held(tmp_path, write_workflow)
    eid = (await runtime.submit(wf, {})).execution_id
    try:
        assert await until(log.exists)
        assert await runtime.request_cancel(eid) == "cancelling"
        result = await asyncio.wait_for(runtime.wait(eid), 30)
    finally:
        gate.write_text("open")
    assert result["status"] == "cancelled"
    assert result["error"]["type"] == "Cancelled"
    assert await runtime.request_cancel(eid) == "cancelled"  # asking again is fine
    assert log.read_text().split() == ["hold"]  # `after` never ran


async def test_a_run_another_process_executes_is_cancelled_there(
    runtime: Runtime, database_url: str, write_workflow, tmp_path: Path
) -> None:
    """`flowyard run` in another process holds the run; this one asks (NOTIFY)."""
    wf, log, gate = _held(tmp_path, write_workflow)
    eid, code, out, err = await _cancelled_cli_run(runtime, database_url, wf, log, gate, "--json")
    assert code == 1, err  # the run did not succeed
    assert await _status(runtime, eid) == "cancelled"
    assert log.read_text().split() == ["hold"]


async def test_a_run_nobody_has_begun_is_cancelled_at_once(
    runtime: Runtime, workspace: Path, database_url: str, write_workflow, tmp_path: Path
) -> None:
    """Queued for a worker (no owner yet): ended in the database; no worker runs it."""
    wf, log, _gate = _held(tmp_path, write_workflow)
    queued = Runtime(
        workspace / "workflows", database_url, workspace,
        function_workers=1, resume=False, queue=True, local=False,
    )  # fmt: skip
    await queued.start()
    try:
        eid = (await queued.submit(wf, {})).execution_id
        assert await _status(runtime, eid) == "queued"
        assert await runtime.request_cancel(eid) == "cancelled"
    finally:
        await queued.close()
    assert await _status(runtime, eid) == "cancelled"
    types = [e["type"] for e in await runtime.run_events(eid)]
    assert types == ["run_queued", "run_cancelled"]
    stored = await runtime.run_result(eid)
    assert stored["started_at"] is None and stored["finished_at"]  # it never began
    assert not log.exists()


async def test_a_finished_run_is_not_cancelled(runtime: Runtime, write_workflow) -> None:
    wf = write_workflow("name: cancel_done\nblocks:\n  s: {type: manual}\n")
    result = await runtime.execute(wf, {})
    assert await runtime.request_cancel(result["execution_id"]) == "succeeded"
    assert await runtime.request_cancel(str(uuid.uuid4())) is None


def test_cli_runs_cancel_says_what_happened(database_url: str, workspace: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    unknown = str(uuid.uuid4())
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "runs", "cancel", unknown],
        cwd=workspace, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"{unknown}: no such run" in done.stderr


async def test_flowyard_run_prints_a_run_level_error_without_a_block(
    runtime: Runtime, database_url: str, write_workflow, tmp_path: Path
) -> None:
    """Cancelled from another shell, `flowyard run` printed `(block None)`."""
    wf, log, gate = _held(tmp_path, write_workflow)
    _, code, out, err = await _cancelled_cli_run(runtime, database_url, wf, log, gate)
    assert code == 1, err
    [said] = [line for line in out.splitlines() if line.startswith("error: ")]
    assert "cancelled" in said and "(block" not in said, out


async def _cancelled_cli_run(
    runtime: Runtime, database_url: str, wf: Workflow, log: Path, gate: Path, *args: str
) -> tuple[str, int, str, str]:
    """`flowyard run` of the held workflow in another process, cancelled from this one
    once it holds: the run's id, the command's exit code, stdout and stderr."""
    other = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "run", wf.file, *args],
        cwd=runtime.workspace,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert await until(log.exists), "the other process never began"
        eid = await runtime.db.log_pool.fetchval(
            "SELECT execution_id::text FROM flowyard_runs WHERE workflow = $1", wf.name
        )
        assert await runtime.request_cancel(eid) == "cancelling"
        out, err = await asyncio.to_thread(other.communicate, timeout=60)
    finally:
        gate.write_text("open")
        if other.poll() is None:
            other.kill()
            other.wait()
    return eid, other.returncode, out, err
