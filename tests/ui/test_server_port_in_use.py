"""`flowyard serve --port N` on a port another program holds: one line on stderr,
exit 1, and nothing started or written before it found out."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_serve_on_a_port_in_use_says_so_in_one_line(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    for name in ("FLOWYARD_TOKEN", "FLOWYARD_WORKFLOWS"):
        env.pop(name, None)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # A timeout only so that a serve left hanging fails the test instead of the run.
        done = subprocess.run(
            [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"flowyard serve: port {port} on 127.0.0.1 is already in use\n"
    assert done.stdout == ""
    # Bound before anything else: no templates installed, no token generated.
    assert sorted(p.name for p in tmp_path.iterdir()) == []
