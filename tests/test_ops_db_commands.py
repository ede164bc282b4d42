"""`flowyard db start|stop` with DATABASE_URL set: every command then uses that
URL, never the workspace's embedded PostgreSQL, so both say so and exit 1 instead
of `start` reporting success while starting nothing (and `stop` stopping a server
nothing was using). `db url` and `db init` use DATABASE_URL, as before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _db(action: str, cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", "db", action],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("action", ["start", "stop"])
def test_db_start_and_stop_with_database_url_say_the_embedded_server_is_not_used(
    action: str, tmp_path: Path, database_url: str
) -> None:
    done = _db(action, tmp_path, database_url)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert done.stderr == (
        f"flowyard db {action}: DATABASE_URL is set, so the workspace's embedded PostgreSQL"
        f" is not used; `db {action}` manages only that one (unset DATABASE_URL to use it)\n"
    )
    assert list(tmp_path.iterdir()) == []  # no .flowyard/pgdata started or touched
    assert _db("url", tmp_path, database_url).stdout.strip() == database_url
