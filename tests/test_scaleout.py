"""Several flowyard processes on one PostgreSQL: workers, schedules, crash takeover."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.runtime import Runtime

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROOT = Path(__file__).resolve().parent.parent


def start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=cwd,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
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


@pytest.fixture
def scaleout_env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLOWYARD_QUEUE": f"scaleout-{tmp_path.name}",
        "FLOWYARD_WORKER_HEARTBEAT": "1",
        "FLOWYARD_WORKER_STALLED_AFTER": "3",
        "PYTHONPATH": str(ROOT),
    }


async def test_two_workers_one_tick_one_run(
    scaleout_env: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    name = f"tick_{tmp_path.name}".replace("-", "_")
    (workflows / "tick.yaml").write_text(
        f"name: {name}\nblocks:\n  clock: {{type: schedule, cron: '* * * * *', timezone: UTC}}\n"
    )
    env = {**scaleout_env, "FLOWYARD_WORKFLOWS": str(workflows)}
    workers = [
        start(["worker", "--concurrency", "4"], env, tmp_path, tmp_path / f"w{i}.log")
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        rows = []
        while time.monotonic() < deadline:
            rows = await runtime.db.log_pool.fetch(
                "SELECT idempotency_key, status FROM flowyard_runs WHERE workflow = $1", name
            )
            if rows and all(r["status"] == "succeeded" for r in rows):
                break
            time.sleep(0.2)
        time.sleep(3)  # both workers have scanned the schedule by now
        rows = await runtime.db.log_pool.fetch(
            "SELECT idempotency_key FROM flowyard_runs WHERE workflow = $1", name
        )
    finally:
        stop(workers)
    keys = [r["idempotency_key"] for r in rows]
    assert keys, "no scheduled run was started: " + (tmp_path / "w0.log").read_text()[-2000:]
    assert len(keys) == len(set(keys))  # each tick exactly once across both workers
    assert all(k.startswith(f"schedule:{name}:") for k in keys)
