"""flowyard processes for tests that start them: `python -m ui.cli …` on a free port."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`flowyard ARGS` run to its end. A timeout only so that a command left hanging
    fails the test instead of the run."""
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until_healthy(client: Any, attempts: int = 300) -> None:
    """Wait (up to 30 s) until the server started by the test answers /api/health."""
    for _ in range(attempts):
        try:
            if (await client.get("/api/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)


async def order_created_run(client: httpx.AsyncClient, token: str, order_id: str) -> dict:
    """Send an `order_created` delivery to a served Order Processing (accepted: 202) and
    return its run once it ended, or as it was after ~30 s."""
    resp = await client.post(
        "/webhooks/orders/events",
        json={"event_type": "order_created", "order_id": order_id, "user_id": "u1"},
    )
    assert resp.status_code == 202, resp.text
    client.headers["Authorization"] = f"Bearer {token}"
    run: dict = {}
    for _ in range(300):
        run = (await client.get(resp.json()["status_url"])).json()
        if run.get("status") in ("succeeded", "failed"):
            break
        await asyncio.sleep(0.1)
    return run


def eventually(check: Callable[[], Any], attempts: int = 1200) -> bool:
    """Whether ``check`` holds, polled every 0.1 s up to ~2 minutes (each start of an
    engine process takes a while)."""
    for _ in range(attempts):
        if check():
            return True
        time.sleep(0.1)
    return False
