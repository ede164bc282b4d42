"""A command whose output is cut (`flowyard runs | head -3`) stops quietly, exit 141
(128 + SIGPIPE, as a shell reports `cat` stopped by `head`), instead of printing a
traceback that ends in BrokenPipeError. Real processes and the embedded PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["runs"], ["runs", "show", "RUN"]])
async def test_a_command_whose_reader_went_away_exits_quietly(
    runtime: Runtime, run_yaml, database_url: str, tmp_path: Path, command: list[str]
) -> None:
    done = await run_yaml(
        "name: cut\nblocks:\n  s: {type: manual}\n  f: {type: function, code: 'return 1'}\n"
        "edges: [s -> f]\n"
    )
    args = [done["execution_id"] if a == "RUN" else a for a in command]
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The only reader closes before the command writes a line: its first write
    # finds the pipe closed, as `| head -1` does once it has its line.
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
