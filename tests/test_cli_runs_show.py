"""`flowyard runs show ID`: when the run started and ended in words (`None` was
printed for a run cancelled before it started and for one still running), and its
input as stored (redacted) and its output, which it never showed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from held_runs import HELD, until

from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "Show5Secret8Token"

VERIFY = """
name: {name}
blocks:
  start: {{type: manual}}
  check: {{type: condition, if: <input.token> == <env.FY_SHOW_TOKEN>}}
  accept:
    type: function
    code: 'return {{"accepted": True, "notes": "n" * 500}}'
edges: [start -> check, check.true -> accept]
"""


async def _show(database_url: str, eid: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ui.cli", "runs", "show", eid],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_a_finished_run_shows_its_redacted_input_and_its_output_cut(
    runtime: Runtime, write_workflow: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FY_SHOW_TOKEN", TOKEN)
    wf = write_workflow(VERIFY.format(name=f"show_{uuid.uuid4().hex[:8]}"))
    result = await runtime.execute(wf, {"token": TOKEN, "order_id": 12345678901234567890123})
    assert result["status"] == "succeeded", result["error"]
    eid = result["execution_id"]
    lines = (await _show(database_url, eid)).splitlines()
    assert lines[1].startswith("started 20") and "finished 20" in lines[1]
    # As stored: redacted, and a number past 64 bits exact.
    assert lines[2] == 'input  {"token":"***","order_id":12345678901234567890123}'
    assert TOKEN not in "\n".join(lines)
    output = '{"accepted":true,"notes":"' + "n" * 500 + '"}'
    assert lines[3] == (
        f"output {output[:200]}… ({len(output)} characters; all of it: GET /api/runs/{eid})"
    )


async def test_a_running_run_and_one_cancelled_before_it_started_say_so(
    runtime: Runtime, workspace: Path, database_url: str, write_workflow: Any, tmp_path: Path
) -> None:
    log, gate = tmp_path / "log", tmp_path / "gate"
    wf = write_workflow(HELD.format(suffix=uuid.uuid4().hex[:8], log=str(log), gate=str(gate)))
    eid = (await runtime.submit(wf, {"n": 1})).execution_id
    try:
        assert await until(log.exists)
        lines = (await _show(database_url, eid)).splitlines()
    finally:
        gate.write_text("open")
    assert lines[1].startswith("started 20") and lines[1].endswith("finished — (still running)")
    assert lines[2:4] == ['input  {"n":1}', "output — (not finished)"]
    await runtime.wait(eid, timeout=30)

    queued = Runtime(
        workspace / "workflows", database_url, workspace,
        function_workers=1, resume=False, queue=True, local=False,
    )  # fmt: skip
    await queued.start()
    try:
        never = (await queued.submit(wf, {})).execution_id
        assert await runtime.request_cancel(never) == "cancelled"  # no worker took it
    finally:
        await queued.close()
    lines = (await _show(database_url, never)).splitlines()
    assert lines[0].endswith("cancelled")
    assert lines[1].startswith("started — (never started)  finished 20"), lines[1]
    assert lines[3] == "output null"
    assert "None" not in "\n".join(lines)


@pytest.mark.parametrize("form", ["{%s}", "urn:uuid:%s"])
def test_a_run_id_in_a_form_the_database_refuses_is_no_such_run(
    database_url: str, form: str
) -> None:
    # uuid.UUID reads both forms and PostgreSQL refuses them: a DataError traceback.
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    run_id = form % uuid.uuid4()
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "runs", "show", run_id],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"no run {run_id}" in done.stderr
