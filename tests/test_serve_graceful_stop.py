"""`flowyard serve` stopped by SIGTERM (a deploy) lets its runs in flight end within
FLOWYARD_SHUTDOWN_GRACE: a run whose block was mid-way is recorded done, instead of
being interrupted and its block — here an INSERT outside any transaction group —
run again by the next start. With a grace of 0 the run is left to resume."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import httpx
import pytest
from held_runs import until
from processes import free_port, start, stop, until_healthy

from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

#: `slow` takes ~2 s after writing its start to the log; `note` inserts a row.
SLOW = """\
name: {name}
blocks:
  hook: {{type: webhook, path: {path}}}
  slow:
    type: function
    code: |
      import time
      with open({log!r}, "a") as f:
          f.write("slow ")
      time.sleep(2)
      return {{"ok": True}}
  note:
    type: database
    query: INSERT INTO {table} (run) VALUES (<workflow.execution_id>)
edges: [hook -> slow, slow -> note]
"""


@pytest.mark.parametrize(("grace", "ends"), [("30", "succeeded"), ("0", "running")])
async def test_sigterm_lets_runs_in_flight_end_within_the_grace(
    database_url: str, runtime: Runtime, tmp_path: Path, grace: str, ends: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    table, log = f"graceful_{tag}", tmp_path / "log"
    pool = runtime.db.log_pool
    await pool.execute(f"CREATE TABLE {table} (run text)")
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "slow.yaml").write_text(
        SLOW.format(name=f"slow_{tag}", path=f"slow-{tag}", log=str(log), table=table)
    )
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "t", "FLOWYARD_SHUTDOWN_GRACE": grace, "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    server = start(["serve", "--port", str(port)], env, tmp_path, tmp_path / "serve.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
            resp = await client.post(f"/webhooks/slow-{tag}", json={})
            assert resp.status_code == 202, resp.text
            eid = resp.json()["execution_id"]
        assert await until(log.exists)
        server.send_signal(signal.SIGTERM)  # mid-way through `slow`
        await asyncio.to_thread(server.wait, 60)
        assert (await runtime.run_result(eid))["status"] == ends, (
            tmp_path / "serve.log"
        ).read_text()
        rows = await pool.fetchval(f"SELECT count(*) FROM {table} WHERE run = $1", eid)
        assert rows == (1 if ends == "succeeded" else 0)
    finally:
        stop([server])
        if ends == "running":  # resumed here, so no later start finds it
            await runtime.resume_unfinished(eid)
            await runtime.wait(eid, 30)
        await pool.execute(f"DROP TABLE IF EXISTS {table}")
