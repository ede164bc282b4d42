"""SIGTERM of `serve` (plain, --engine-process, --log-format json) and of `flowyard
worker` is logged: "stopping" with the runs it waits for and how long, each run it
interrupts by id (left `running` for the next start to resume), and "stopped".

It logged nothing, even when it interrupted runs: an operator could not tell a stop
that cut runs short from one that did not."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from held_runs import HELD, HOLD, until
from processes import free_port, start, stop

from engine.model import load_file
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

HOOKED = (
    """
name: hooked_{suffix}
blocks:
  hook: {{type: webhook, path: {path}}}"""
    + HOLD
    + """
edges: [hook -> hold]
"""
)


def _env(database_url: str, workflows: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLOWYARD_QUEUE": f"stop-{uuid.uuid4().hex[:8]}",
        "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_SHUTDOWN_GRACE": "0.5",
        "PYTHONPATH": str(ROOT),
    }


@pytest.mark.parametrize(
    "options", [[], ["--engine-process", "--log-format", "json"]], ids=["plain", "engine-json"]
)
async def test_a_stopped_serve_says_so_and_names_the_runs_it_interrupts(
    database_url: str, tmp_path: Path, options: list[str]
) -> None:
    log, gate = tmp_path / "log", tmp_path / "gate"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    path = f"stop-{uuid.uuid4().hex[:8]}"
    (workflows / "hooked.yaml").write_text(
        HOOKED.format(suffix=path[5:], path=path, log=str(log), gate=str(gate))
    )
    port = free_port()
    serve_log = tmp_path / "serve.log"
    server = start(
        ["serve", "--port", str(port), *options], _env(database_url, workflows), tmp_path, serve_log
    )
    db = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(300):
                try:
                    resp = await client.post(f"/webhooks/{path}", json={})
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            assert resp.status_code == 202, resp.text
            eid = resp.json()["execution_id"]
        assert await until(log.exists), serve_log.read_text()[-4000:]
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=90) == 0
        said = serve_log.read_text()
        assert "stopping: waiting up to 0.5 s for 1 run" in said, said[-4000:]
        assert f"run {eid} is interrupted by the stop: the next start resumes it" in said
        assert said.rstrip().endswith("stopped") or said.rstrip().endswith('"stopped"}'), said
        if not options:
            assert "WARNING flowyard.runtime: run " in said
            assert "INFO flowyard.stop: stopped" in said
        status = await db.fetchval("SELECT status FROM flowyard_runs WHERE execution_id = $1", eid)
        assert status == "running"  # for the next start
    finally:
        gate.write_text("open")  # a later start resumes it and ends it at once
        stop([server])
        await db.close()


async def test_a_stopped_worker_says_it_waits_for_its_runs_then_stopped(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log, gate = tmp_path / "log", tmp_path / "gate"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    suffix = uuid.uuid4().hex[:8]
    (workflows / "held.yaml").write_text(HELD.format(suffix=suffix, log=str(log), gate=str(gate)))
    env = _env(database_url, workflows)
    monkeypatch.setenv("FLOWYARD_QUEUE", env["FLOWYARD_QUEUE"])
    server = Runtime(
        workflows, database_url, tmp_path, function_workers=1, resume=False, queue=True, local=False
    )
    await server.start()
    worker_log = tmp_path / "worker.log"
    worker = start(["worker"], env, tmp_path, worker_log)
    try:
        eid = (await server.submit(load_file(workflows / "held.yaml"), {})).execution_id
        assert await until(log.exists), worker_log.read_text()[-4000:]
        worker.send_signal(signal.SIGTERM)
        assert await until(lambda: "stopping: waiting for 1 run to end" in worker_log.read_text())
        gate.write_text("open")  # a worker lets its jobs end
        assert (await server.wait(eid, timeout=60))["status"] == "succeeded"
        assert worker.wait(timeout=60) == 0
        said = worker_log.read_text()
        assert said.rstrip().endswith("INFO flowyard.stop: stopped"), said[-4000:]
        assert "interrupted" not in said
    finally:
        gate.write_text("open")
        stop([worker])
        await server.close()
