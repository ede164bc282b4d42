"""`flowyard serve` stopped while PostgreSQL is away ends within its shutdown grace
plus STOP_MARGIN_S, as docs/deploy.md tells operators to size their supervisor's stop
timeout. It took the grace plus ~12 s: the queue worker, which cannot unregister
itself without the database, was waited for 10 s before the runs got their grace,
and a supervisor killed the process mid-stop.

A real `serve` reaching PostgreSQL through the tests' relay, cut as a stopped server
would be, with a run in flight waiting for the database to come back.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
from held_runs import until
from processes import free_port, start, stop, until_healthy

from ui._serve_stop import STOP_MARGIN_S

ROOT = Path(__file__).resolve().parent.parent
GRACE_S = 2
SLACK_S = 3

#: `slow` writes its start to {log}, then outlasts the cut: the run's next record
#: cannot be written, and it waits for the database in its task.
SLOW = """\
name: slow_{tag}
blocks:
  hook: {{type: webhook, path: slow-{tag}}}
  slow:
    type: function
    code: |
      import time
      open({log!r}, "w").close()
      time.sleep(1)
      return {{"ok": True}}
edges: [hook -> slow]
"""


async def test_a_serve_stopped_while_the_database_is_away_ends_within_grace_and_margin(
    relayed_url: tuple[str, str, Any], tmp_path: Path
) -> None:
    _, through, relay = relayed_url
    tag, log = uuid.uuid4().hex[:8], tmp_path / "started"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "slow.yaml").write_text(SLOW.format(tag=tag, log=str(log)))
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": through, "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "t", "FLOWYARD_QUEUE": f"stop-outage-{tag}",
        "FLOWYARD_SHUTDOWN_GRACE": str(GRACE_S), "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    serve_log = tmp_path / "serve.log"
    server = start(["serve", "--port", str(port)], env, tmp_path, serve_log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
            resp = await client.post(f"/webhooks/slow-{tag}", json={})
            assert resp.status_code == 202, resp.text
        assert await until(log.exists), serve_log.read_text()
        relay.cut()  # PostgreSQL goes away under the run
        assert await until(lambda: "cannot be reached" in serve_log.read_text())
        server.send_signal(signal.SIGTERM)
        # A supervisor whose stop timeout is the documented bound (the grace plus the
        # margin) kills a serve that outlasts it. Waited for with slack for a busy
        # machine: the old stop took the grace plus ~12 s, the bound is plus 5.
        try:
            code = await asyncio.to_thread(server.wait, GRACE_S + STOP_MARGIN_S + SLACK_S)
        except subprocess.TimeoutExpired:
            code = None
    finally:
        stop([server])
    text = serve_log.read_text()
    assert code == 0, text
    assert "Task was destroyed" not in text, text
