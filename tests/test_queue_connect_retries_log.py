"""The queue's connection pool (psycopg_pool, for procrastinate) through a database
outage: it logged every failed connection attempt as a WARNING for as long as the
outage lasted (18 in a minute from an idle `flowyard worker`, each with the driver's
two-line message). The first is said in one line, then at most one a minute, with the
count of those not said (engine/repeated_failures.py), as asyncpg's retries are.

The "database" is a port that accepts each connection and closes it at once.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterator

import pytest
from held_runs import until
from psycopg_pool import AsyncConnectionPool

from engine.queue import RunQueue

CONNECTING = "error connecting in "


@contextlib.contextmanager
def closing_port() -> Iterator[tuple[int, list[int]]]:
    """(a port that accepts and closes every connection, the count of them so far)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = [0]

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                accepted[0] += 1
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        server.close()


async def test_the_queues_failed_connects_are_said_once_not_at_each_try(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="psycopg.pool")
    # What is said is said once a minute per process: another test's outage may have
    # said it already. A fresh start, as a new process has (RunQueue installs it).
    connect_log = logging.getLogger("psycopg.pool")
    for said_before in list(connect_log.filters):
        connect_log.removeFilter(said_before)
    with closing_port() as (port, accepted):
        url = f"postgresql://flowyard@127.0.0.1:{port}/flowyard?connect_timeout=2"
        RunQueue(url, name="retries-test")  # the queue of a worker on that database
        pool = AsyncConnectionPool(url, min_size=1, open=False, reconnect_timeout=300)
        await pool.open(wait=False)
        try:
            assert await until(lambda: accepted[0] >= 3, attempts=300), "no retries"
        finally:
            await pool.close()
    said = [r for r in caplog.records if r.getMessage().startswith(CONNECTING)]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert "said again at most once a minute" in said[0].getMessage()
