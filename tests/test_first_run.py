"""`flowyard serve` in a new workspace: the shipped templates are ready at once."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _new_database(url: str) -> str:
    """An empty database on the tests' server: the templates' tables must come from serve."""
    name = f"first_run_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


def test_a_new_workspace_serves_order_webhooks(database_url: str, tmp_path: Path) -> None:
    port, token = _free_port(), "first-run-token"
    env = {**os.environ, "DATABASE_URL": _new_database(database_url), "FLOWYARD_TOKEN": token,
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    env.pop("FLOWYARD_WORKFLOWS", None)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        order = f"first-run-{uuid.uuid4().hex[:8]}"
        resp = httpx.post(
            base + "/webhooks/orders/events",
            json={"event_type": "order_created", "order_id": order, "user_id": "u1"},
        )
        assert resp.status_code == 202, resp.text
        auth = {"Authorization": f"Bearer {token}"}
        run: dict = {}
        while time.monotonic() < deadline:
            run = httpx.get(base + resp.json()["status_url"], headers=auth).json()
            if run.get("status") in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        assert run["status"] == "succeeded", run
        names = {
            w["name"] for w in httpx.get(base + "/api/workflows", headers=auth).json()["workflows"]
        }
        assert {"order_processing", "replay_events"} <= names
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    assert (
        "a new workspace: order_processing, replay_events installed"
        in (tmp_path / "serve.log").read_text()
    )


def test_an_existing_workflows_folder_is_left_alone(tmp_path: Path) -> None:
    from ui.server import _install_templates_if_new

    (tmp_path / "workflows").mkdir()
    assert _install_templates_if_new(tmp_path / "workflows") == []
    assert list((tmp_path / "workflows").iterdir()) == []
