"""A JavaScript Function stuck in V8 (`while (true) {}`) ends when its run is
cancelled or its process stops, not at its own timeout: a cancelled `flowyard run`
stayed alive until then (waiting for the thread running V8), and `flowyard serve`
stopped by SIGTERM logged "stopped" and never exited.

Code stuck after an `await` runs where no evaluation of mini-racer's can be
cancelled (V8's microtask checkpoint): it was not even ended by its timeout.

Real `flowyard run` and `flowyard serve` processes, the session runtime, and the
embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import py_mini_racer  # noqa: F401 - a test extra: missing, these tests must fail, not skip
import pytest
from held_runs import until
from processes import cli, free_port, start, stop, until_healthy
from py_mini_racer._context import context_count

from engine.runtime import Runtime
from ui._serve_stop import STOP_MARGIN_S

ROOT = Path(__file__).resolve().parent.parent
GRACE_S = 2
SLACK_S = 3

#: Stuck in the code itself, and after an `await` (in V8's microtask checkpoint).
STUCK = ["while (true) {}", "await null;\nwhile (true) {}"]

#: `spin` never ends on its own before its timeout.
SPIN = """\
name: {name}
blocks:
  {trigger}
  spin:
    type: function
    language: javascript
    timeout: {timeout}
    code: |
{code}
edges: [start -> spin]
"""


def _spin(name: str, code: str, timeout: int = 600, trigger: str = "start: {type: manual}") -> str:
    body = "\n".join("      " + line for line in code.splitlines())
    return SPIN.format(name=name, trigger=trigger, timeout=timeout, code=body)


async def _spinning(runtime: Runtime, eid: str) -> bool:
    events = await runtime.run_events(eid)
    return any(e["type"] == "block_started" and e["block"] == "spin" for e in events)


async def _run_id(runtime: Runtime, workflow: str) -> str | None:
    return await runtime.db.log_pool.fetchval(
        "SELECT execution_id::text FROM flowyard_runs WHERE workflow = $1", workflow
    )


@pytest.mark.parametrize("code", STUCK)
async def test_a_cancel_ends_javascript_stuck_in_this_process(
    runtime: Runtime, write_workflow, code: str
) -> None:
    """The cancelled run's V8 context is gone (it was left running to the timeout),
    and the next JavaScript Function runs in a fresh one."""
    wf = write_workflow(_spin(f"spin_{uuid.uuid4().hex[:8]}", "globalThis.leak = 1;\n" + code))
    eid = (await runtime.submit(wf, {})).execution_id
    assert await until(lambda: _spinning(runtime, eid))
    assert await runtime.request_cancel(eid) == "cancelling"
    result = await asyncio.wait_for(runtime.wait(eid), 30)
    assert result["status"] == "cancelled"
    assert await until(lambda: context_count() == 0), "V8 still runs the cancelled code"
    after = write_workflow(
        "name: js_after_cancel\nblocks:\n"
        "  start: {type: manual}\n"
        "  f: {type: function, language: javascript, code: 'return {fresh: typeof leak}'}\n"
        "edges: [start -> f]\n"
    )
    done = await runtime.execute(after, {})
    assert done["status"] == "succeeded", done["error"]
    assert done["output"] == {"fresh": "undefined"}


@pytest.mark.parametrize("code", STUCK)
async def test_a_cancel_ends_flowyard_run_stuck_in_javascript(
    runtime: Runtime, database_url: str, write_workflow, code: str
) -> None:
    name = f"spin_{uuid.uuid4().hex[:8]}"
    wf = write_workflow(_spin(name, code))
    other = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "run", wf.file],
        cwd=runtime.workspace,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert await until(lambda: _run_id(runtime, name)), "the other process never began"
        eid = await _run_id(runtime, name)
        assert eid is not None
        assert await until(lambda: _spinning(runtime, eid))
        assert await runtime.request_cancel(eid) == "cancelling"
        # A bound only so that a process left hanging fails the test (the block's
        # timeout is 600 s).
        _, err = await asyncio.to_thread(other.communicate, timeout=60)
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
    assert other.returncode == 1, err
    assert (await runtime.run_result(eid))["status"] == "cancelled"


def test_a_timeout_ends_javascript_stuck_after_an_await(
    database_url: str, workspace: Path, write_workflow
) -> None:
    """V8 ran the code after `await` where mini-racer's timeout could not reach it:
    the block never failed, and `flowyard run` never ended."""
    wf = write_workflow(_spin(f"spin_{uuid.uuid4().hex[:8]}", STUCK[1], timeout=1))
    done = cli(["run", wf.file], workspace, {**os.environ, "DATABASE_URL": database_url})
    assert done.returncode == 1, done.stderr
    assert "JavaScript ran longer than 1s" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("code", STUCK)
async def test_sigterm_ends_serve_with_javascript_stuck_within_grace_and_margin(
    runtime: Runtime, database_url: str, tmp_path: Path, code: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    trigger = f"start: {{type: webhook, path: spin-{tag}}}"
    (workflows / "spin.yaml").write_text(_spin(f"spin_{tag}", code, trigger=trigger))
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "t", "FLOWYARD_SHUTDOWN_GRACE": str(GRACE_S), "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    serve_log = tmp_path / "serve.log"
    server = start(["serve", "--port", str(port)], env, tmp_path, serve_log)
    eid = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
            resp = await client.post(f"/webhooks/spin-{tag}", json={})
            assert resp.status_code == 202, resp.text
            eid = resp.json()["execution_id"]
        assert await until(lambda: _spinning(runtime, eid)), serve_log.read_text()
        server.send_signal(signal.SIGTERM)
        # A supervisor whose stop timeout is the documented bound (docs/deploy.md: the
        # grace plus the margin) kills a serve that outlasts it; slack for a busy
        # machine. It never exited before SIGKILL.
        try:
            exited = await asyncio.to_thread(server.wait, GRACE_S + STOP_MARGIN_S + SLACK_S)
        except subprocess.TimeoutExpired:
            exited = None
    finally:
        stop([server])
        if eid is not None:  # left to resume; no later start must spin in it
            assert await runtime.request_cancel(eid) == "cancelled"
    assert exited == 0, serve_log.read_text()
