"""`flowyard runs show ID` prints a table of the run's blocks (status, duration,
attempts, error) and never their values, yet it read every top-level block's
output and resolved inputs: a block returning 50 MB (and the next block reading
it) took 900 MB of memory and 8 s to print ten lines. It now reads the blocks
without their inputs and outputs. Counted in bytes: what the table is read from.

Real engine run and `flowyard runs show` process, embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

BIG = """
name: {name}
blocks:
  start: {{type: manual}}
  f:
    type: function
    isolation: inline
    code: 'return {{"rows": ["x" * 100] * 30000}}'
  g:
    type: function
    isolation: inline
    code: 'return {{"n": len(<f.rows>)}}'
edges: [start -> f, f -> g]
"""


async def test_runs_show_reads_the_blocks_without_their_values(
    runtime: Runtime, write_workflow: Any, database_url: str
) -> None:
    wf = write_workflow(BIG.format(name=f"show_big_{uuid.uuid4().hex[:8]}"))
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    eid = result["execution_id"]

    whole = await runtime.run_result(eid)
    outlined = await runtime.run_result(eid, outline=True)
    assert len(json.dumps(whole)) > 3_000_000  # f's output, and g's input of it
    assert len(json.dumps(outlined)) < 10_000
    for bid in ("start", "f", "g"):
        for key in ("status", "attempts", "duration_ms", "error"):
            assert outlined["blocks"][bid][key] == whole["blocks"][bid][key], (bid, key)
    assert outlined["output"] == {"n": 30000}  # the run's own output, from its row

    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ui.cli", "runs", "show", eid],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[6:] if line}
    assert rows == {"start": "succeeded", "f": "succeeded", "g": "succeeded"}, done.stdout
    assert 'output {"n":30000}' in done.stdout
