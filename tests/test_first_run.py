"""`flowyard serve` in a new workspace: the shipped templates are ready at once."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
from db_helpers import new_database
from processes import free_port, order_created_run, start, stop, until_healthy

ROOT = Path(__file__).resolve().parent.parent


async def test_a_new_workspace_serves_order_webhooks(database_url: str, tmp_path: Path) -> None:
    port, token = free_port(), "first-run-token"
    env = {**os.environ, "DATABASE_URL": await new_database(database_url, "first_run"),
           "FLOWYARD_TOKEN": token, "PYTHONPATH": str(ROOT)}  # fmt: skip
    env.pop("FLOWYARD_WORKFLOWS", None)
    server = start(["serve", "--port", str(port)], env, tmp_path, tmp_path / "serve.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
            order = f"first-run-{uuid.uuid4().hex[:8]}"
            run = await order_created_run(client, token, order)
            assert run["status"] == "succeeded", run
            names = {w["name"] for w in (await client.get("/api/workflows")).json()["workflows"]}
            assert {"order_processing", "replay_events"} <= names
    finally:
        stop([server])
    assert (
        "a new workspace: order_processing, replay_events installed"
        in (tmp_path / "serve.log").read_text()
    )


def test_an_existing_workflows_folder_is_left_alone(tmp_path: Path) -> None:
    from ui.server import _install_templates_if_new

    (tmp_path / "workflows").mkdir()
    assert _install_templates_if_new(tmp_path / "workflows") == []
    assert list((tmp_path / "workflows").iterdir()) == []
