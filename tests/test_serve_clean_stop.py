"""`flowyard serve` stopped by SIGTERM logs no ERROR.

Every stop logged `ERROR asyncio: Task was destroyed but it is pending!` for the
task holding the key-order lock (engine/key_order.py): it was never cancelled, and
died with the engine's loop. An operator alerting on ERROR lines was paged by every
deploy. A real `serve` on the session's PostgreSQL, in both of its modes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path

import httpx
import pytest
from processes import free_port, start, stop, until_healthy

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("mode", [[], ["--no-worker"]], ids=["serve", "no-worker"])
async def test_a_stopped_serve_logs_no_error(
    database_url: str, tmp_path: Path, mode: list[str]
) -> None:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "t", "FLOWYARD_QUEUE": f"stop-{uuid.uuid4().hex[:8]}",
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    log = tmp_path / "serve.log"
    server = start(["serve", "--port", str(port), *mode], env, tmp_path, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
        server.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.wait, 60)
    finally:
        stop([server])
    text = log.read_text()
    assert code == 0, text
    assert "serving" in text  # the log is the server's
    assert "Task was destroyed" not in text, text
    assert [line for line in text.splitlines() if " ERROR " in line] == [], text
