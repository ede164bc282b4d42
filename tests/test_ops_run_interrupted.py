"""Ctrl-C on `flowyard run` cancels its run and says so in one line (exit 130).

It printed a 45-line KeyboardInterrupt traceback and left the run `running`: the
next `flowyard run` of anything resumed it without a word, sending its HTTP calls."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent

SLOW = """\
name: slow_to_interrupt
blocks:
  start: {type: manual}
  wait: {type: database, query: "SELECT pg_sleep(30) AS slept"}
edges: [start -> wait]
"""


async def test_ctrl_c_cancels_the_run(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "slow_to_interrupt.yaml").write_text(SLOW)
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "run", "slow_to_interrupt"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as a terminal sends it: tests started in the background (`cmd &`)
        # have SIGINT ignored, and the child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    conn = await asyncpg.connect(database_url)
    try:
        eid = None
        for _ in range(600):  # until its block is under way
            eid = await conn.fetchval(
                "SELECT r.execution_id FROM flowyard_runs r JOIN flowyard_run_events e"
                " USING (execution_id) WHERE r.workflow = 'slow_to_interrupt'"
                " AND r.status = 'running' AND e.type = 'block_started' AND e.block = 'wait'"
            )
            if eid is not None:
                break
            await asyncio.sleep(0.1)
        assert eid is not None, proc.stderr.read() if proc.poll() is not None else "not started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 130, err
        assert err == f"flowyard run: interrupted; run {eid} cancelled\n"
        status = await conn.fetchval(
            "SELECT status FROM flowyard_runs WHERE execution_id = $1", eid
        )
        assert status == "cancelled"
    finally:
        if proc.poll() is None:
            proc.kill()
        await conn.close()
