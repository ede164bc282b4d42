"""`flowyard serve --log-format json`: every line it logs is one JSON object, the
"serving … on http://…" banner included (it was plain text among the JSON lines)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
from processes import free_port, start, stop, until_healthy

ROOT = Path(__file__).resolve().parents[2]


def test_the_serving_banner_is_a_json_log_line(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()  # an existing workspace: no templates installed
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env["FLOWYARD_TOKEN"] = "t" * 24  # the one-time token notice is printed, never logged
    env.pop("FLOWYARD_WORKFLOWS", None)
    port = free_port()
    log = tmp_path / "serve.log"
    proc = start(["serve", "--port", str(port), "--log-format", "json"], env, tmp_path, log)
    try:

        async def healthy() -> None:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await until_healthy(client)

        asyncio.run(healthy())
    finally:
        stop([proc])
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # each line parses: no plain text
    banner = [r for r in records if r["message"].startswith("serving ")]
    assert len(banner) == 1, lines
    assert banner[0]["level"] == "info"
    assert f"on http://127.0.0.1:{port}/ (accepting and running)" in banner[0]["message"]
