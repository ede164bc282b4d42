"""Freezing the tests' embedded PostgreSQL: SIGSTOP to the postmaster and its
children, SIGCONT after. A database that hangs rather than refuses (a paused VM, a
network that drops packets): connections stay open, statements get no answer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import psutil

from engine.database import pgdata_dir


@contextlib.contextmanager
def frozen(workspace: Path, only_postmaster: bool = False) -> Iterator[None]:
    """PostgreSQL of ``workspace`` (the embedded one the tests share) stopped in its
    tracks while the block runs; always resumed after, whatever the block raised.

    ``only_postmaster``: the backends go on; no new connection is taken, and a
    cancel request (a client that gave up on a statement asks the postmaster to
    pass it on) waits — the statement runs to its end, as it does when the database
    resumes before the cancel reaches it."""
    pid = int((pgdata_dir(workspace) / "postmaster.pid").read_text().split()[0])
    postmaster = psutil.Process(pid)
    procs = [postmaster] if only_postmaster else [postmaster, *postmaster.children()]
    stopped = []
    try:
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.suspend()
                stopped.append(proc)
        yield
    finally:
        for proc in stopped:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.resume()
