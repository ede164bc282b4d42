"""A queue worker (`flowyard worker`, a plain `serve`'s own) outlives a database
outage longer than it waits for a connection: the procrastinate worker inside it
ends then, and is started again, so runs accepted before, during and after the
outage all run — in the same process, with no restart — and a run it was executing
is not executed twice.

The process reaches PostgreSQL through a relay the test cuts (tests/relay.py); the
runs are accepted by a runtime reaching it directly, as `serve --no-worker` does.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from held_runs import HELD, until
from processes import free_port, start, stop

from engine.model import load_file
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

#: How long the worker waits for a connection (FLOWYARD_WORKER_CONNECTION_WAIT), and
#: the outage: several times as long, so that a job fetch has run out of it.
CONNECTION_WAIT_S = 1.0
OUTAGE_S = 6.0

QUICK = """
name: quick_{suffix}
blocks:
  start: {{type: manual}}
  done:
    type: function
    code: |
      return {{"n": <start.n>}}
edges: [start -> done]
"""


@pytest.mark.parametrize("command", ["worker", "serve"])
async def test_a_queue_worker_runs_jobs_again_after_an_outage_longer_than_its_connection_wait(
    command: str,
    relayed_url: tuple[str, str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    direct, through, relay = relayed_url
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FLOWYARD_QUEUE", queue)
    log, gate = tmp_path / "log", tmp_path / "gate"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    suffix = uuid.uuid4().hex[:8]
    (workflows / "held.yaml").write_text(HELD.format(suffix=suffix, log=str(log), gate=str(gate)))
    (workflows / "quick.yaml").write_text(QUICK.format(suffix=suffix))
    held, quick = load_file(workflows / "held.yaml"), load_file(workflows / "quick.yaml")
    server = Runtime(
        workflows, direct, tmp_path, function_workers=1, resume=False, queue=True, local=False
    )
    await server.start()
    env = {
        **os.environ,
        "DATABASE_URL": through,
        "FLOWYARD_QUEUE": queue,
        "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_WORKER_HEARTBEAT": "1",
        "FLOWYARD_WORKER_STALLED_AFTER": "3",
        "FLOWYARD_WORKER_CONNECTION_WAIT": str(CONNECTION_WAIT_S),
        "FLOWYARD_TOKEN": "t",
        "PYTHONPATH": str(ROOT),
    }
    port = free_port()
    args = {"worker": ["worker", "--concurrency", "4"], "serve": ["serve", "--port", str(port)]}
    worker_log = tmp_path / f"{command}.log"
    worker = start(args[command], env, tmp_path, worker_log)
    http = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer t"}, timeout=30
    )
    try:

        async def run(n: int) -> str:
            return (await server.submit(quick, {"n": n})).execution_id

        async def succeeded(eid: str) -> None:
            result = await server.wait(eid, timeout=90)
            assert result["status"] == "succeeded", (result, worker_log.read_text()[-4000:])

        await succeeded(await run(0))  # the worker works
        executing = (await server.submit(held, {})).execution_id
        assert await until(log.exists), "the worker never started the held run"

        relay.cut()
        during = await run(1)
        await asyncio.sleep(OUTAGE_S)
        relay.restore()
        after = await run(2)

        # The held run's job is retried as a stalled worker's (the stopping worker no
        # longer beats), while the run still executes in the worker process.
        async def retried() -> bool:
            status = await server.db.log_pool.fetchval(
                "SELECT status::text FROM procrastinate_jobs"
                " WHERE queue_name = $1 AND args->>'execution_id' = $2",
                queue,
                executing,
            )
            return status == "todo"

        assert await until(retried), worker_log.read_text()[-4000:]
        gate.write_text("open")  # the held run ends; then the worker starts again
        for eid in (executing, during, after):
            await succeeded(eid)
        assert worker.poll() is None  # the same process ran them
        # Executed once: its retried job did not run it again.
        assert log.read_text().split() == ["hold", "after"]
        said = worker_log.read_text()
        assert "ERROR flowyard.queue: the queue worker stopped:" in said, said[-4000:]
        assert "starting it again in 1 s" in said
        if command == "serve":  # what it shows of its queue worker
            health = await http.get("/api/health")
            assert health.json() == {"status": "ok", "database": "ok", "queue_worker": "running"}
            metrics = (await http.get("/metrics")).text.splitlines()
            assert "flowyard_queue_worker_restarts_total 1" in metrics
    finally:
        await http.aclose()
        stop([worker])
        await server.close()
