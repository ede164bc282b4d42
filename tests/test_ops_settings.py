"""Settings `flowyard serve` reads from the environment, refused at start in one
line when they cannot be used, before it binds its port, checks the database or
writes a token or templates: silently falling back leaves an operator believing a
setting they never got."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def _serve(cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **settings}
    # Nobody answers there: a setting let through would end in that error instead.
    env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/postgres"
    for name in ("FLOWYARD_TOKEN", "FLOWYARD_WORKFLOWS"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", "serve", "--port", str(free_port())],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_secret_key_is_refused_at_start(key: str, tmp_path: Path) -> None:
    done = _serve(tmp_path, FLOWYARD_SECRET_KEY=key)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "flowyard serve: FLOWYARD_SECRET_KEY is set but empty: give a key, or unset it"
        " to use the one generated in .flowyard/secret_key\n"
    )
    assert list(tmp_path.iterdir()) == []  # no token, key or templates written
