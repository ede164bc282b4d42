"""A database outage is not a 27-line traceback a second from asyncpg: each pool
below its ``min_size`` reconnects in the background after every release, and logged
every failed try as a WARNING with its traceback (~300 lines in 20 s from an idle
`serve --engine-process`). The first is said in one line, then at most one a minute
(engine/repeated_failures.py); a failure that is no outage keeps its traceback.

The runtime reaches PostgreSQL through a relay the test cuts (tests/relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from typing import Any

import pytest
from held_runs import until

from engine.repeated_failures import quiet_pool_floor
from engine.runtime import Runtime

FLOOR = "Failed to restore the pool connection floor"


async def test_an_outage_under_the_pools_is_said_in_one_line(
    relayed_runtime: tuple[Runtime, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="asyncpg.pool")
    rt, relay = relayed_runtime
    # What is said is said once a minute per process: another test's outage may have
    # said it already. A fresh start, as a new process has.
    floor_log = logging.getLogger("asyncpg.pool")
    for said_before in list(floor_log.filters):
        floor_log.removeFilter(said_before)
    quiet_pool_floor()
    relay.cut()

    async def floor_said() -> bool:
        with contextlib.suppress(Exception):  # the outage: each use releases, asyncpg retries
            await rt.db.log_pool.fetchval("SELECT 1")
        await asyncio.sleep(0.1)
        return any(r.getMessage().startswith(FLOOR) for r in caplog.records)

    assert await until(floor_said, attempts=300), "asyncpg never retried the pool's floor"
    said = [r for r in caplog.records if r.getMessage().startswith(FLOOR)]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert said[0].exc_info is None, "a traceback for an outage"
    assert "the database cannot be reached" in said[0].getMessage()
    relay.restore()


def _record(logger: logging.Logger, exc: Exception) -> logging.LogRecord:
    try:
        raise exc
    except Exception:
        return logger.makeRecord(
            logger.name, logging.WARNING, __file__, 1, FLOOR + "; retrying", None, sys.exc_info()
        )


def test_a_long_outage_is_said_again_at_most_once_a_minute() -> None:
    logger = logging.getLogger("flowyard.test.pool_floor")
    clock = [0.0]
    quiet_pool_floor(logger, clock=lambda: clock[0])
    refused = ConnectionRefusedError(111, "Connection refused")
    passed = []
    for _ in range(59):  # a minute of tries a second: the first line only
        record = _record(logger, refused)
        if logger.filter(record):
            passed.append(record)
        clock[0] += 1.0
    assert len(passed) == 1 and passed[0].exc_info is None
    clock[0] = 60.0
    again = _record(logger, refused)
    assert logger.filter(again)
    assert again.getMessage() == (
        f"{FLOOR}: the database cannot be reached (ConnectionRefusedError: [Errno 111]"
        " Connection refused); asyncpg retries, said again at most once a minute;"
        " 58 more since the last line"
    )
    # Not an outage (a bug, a refused password): said each time, with its traceback.
    other = _record(logger, ValueError("bad"))
    assert logger.filter(other) and other.exc_info is not None
    assert other.getMessage() == FLOOR + "; retrying"
