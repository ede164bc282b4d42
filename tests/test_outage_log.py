"""A database outage under a run in flight is said once in the log, not five
tracebacks a second: the run's events are flushed every 0.2 s, and each failed flush
was an ERROR with a 2.5 KB traceback. Then at most one line a minute, and one line
when flushing works again (as the scheduler says a tick it cannot submit).

The runtime reaches PostgreSQL through a relay the test cuts (tests/relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from held_runs import until

from engine.inflight import InFlight, beat
from engine.model import load_file
from engine.repeated_failures import RepeatedFailures
from engine.runtime import Runtime

#: 200 iterations of ~20 ms, each writing its index to {log}: events all along.
SLOW_LOOP = """
name: slow_loop_{suffix}
blocks:
  start: {{type: manual}}
  spin:
    type: loop
    count: 200
    body: [tick]
  tick:
    type: function
    code: |
      import time
      time.sleep(0.02)
      with open({log!r}, "a") as f:
          f.write("tick\\n")
      return {{"i": <loop.index>}}
edges: [start -> spin]
"""

FLUSH_FAILED = "flushing run events failed"


async def test_an_outage_under_a_run_is_logged_once_and_its_end_once(
    relayed_runtime: tuple[Runtime, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flowyard.runtime")
    rt, relay = relayed_runtime
    log = tmp_path / "ticks"
    wf_file = tmp_path / "slow.yaml"
    wf_file.write_text(SLOW_LOOP.format(suffix=uuid.uuid4().hex[:8], log=str(log)))
    eid = (await rt.submit(load_file(wf_file), {})).execution_id
    waiter = asyncio.create_task(rt.wait(eid))

    def ticks() -> int:
        return log.read_text().count("tick") if log.exists() else 0

    assert await until(lambda: ticks() >= 5), "the loop never started"
    relay.cut()
    at_cut = ticks()
    # 75 iterations of 20 ms: the loop goes on, its events flushed (and refused) ~7 times.
    assert await until(lambda: ticks() >= at_cut + 75), "the loop did not go on"
    said = [r for r in caplog.records if r.getMessage().startswith(FLUSH_FAILED)]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert said[0].levelno == logging.ERROR and said[0].exc_info is None  # one line
    assert "the database cannot be reached" in said[0].getMessage()

    relay.restore()
    result = await asyncio.wait_for(waiter, 120)
    assert result["status"] == "succeeded", result["error"]

    def recovered() -> bool:
        return any(
            r.levelno == logging.INFO
            and r.getMessage().startswith("flushing run events works again")
            for r in caplog.records
        )

    assert await until(recovered), "no line said flushing works again"


def test_a_long_outage_is_said_again_at_most_once_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="flowyard.test")
    clock = [0.0]
    failures = RepeatedFailures(logging.getLogger("flowyard.test"), "flushing run events",
                                clock=lambda: clock[0])  # fmt: skip
    refused = ConnectionRefusedError(111, "Connection refused")
    for _ in range(5 * 59):  # a minute of flushes every 0.2 s: the first line only
        failures.failed(refused)
        clock[0] += 0.2
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [FLUSH_FAILED]
    clock[0] = 60.0
    failures.failed(refused)
    assert caplog.records[-1].getMessage() == (
        "flushing run events still fails after 60 s (296 attempts):"
        " ConnectionRefusedError: [Errno 111] Connection refused"
    )
    failures.worked()
    assert caplog.records[-1].levelno == logging.INFO
    assert caplog.records[-1].getMessage() == (
        "flushing run events works again (296 attempts failed over 60 s)"
    )
    assert len(caplog.records) == 3


class _CountingPool:
    """The runtime's pool, counting the heartbeat's statements (its attempts)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.calls = 0

    async def fetch(self, *args: Any) -> Any:
        self.calls += 1
        return await self.pool.fetch(*args)


async def test_an_outage_fails_the_heartbeat_in_one_line_not_a_traceback_per_beat(
    relayed_runtime: tuple[Runtime, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """The heartbeat beat every 10 s through an outage, each failure an ERROR with a
    2 KB traceback: a log collector got one per beat for as long as it lasted."""
    caplog.set_level(logging.INFO, logger="flowyard.runtime")
    rt, relay = relayed_runtime
    pool = _CountingPool(rt.db.log_pool)
    beating = asyncio.create_task(beat(InFlight(), pool, "outage-log-test", 0.01))  # type: ignore[arg-type]
    try:
        relay.cut()
        assert await until(lambda: pool.calls >= 30), "the heartbeat stopped trying"
        said = [r for r in caplog.records if "heartbeat" in r.getMessage()]
        assert len(said) == 1, [r.getMessage() for r in said]
        assert said[0].levelno == logging.ERROR and said[0].exc_info is None
        assert "the database cannot be reached" in said[0].getMessage()

        relay.restore()

        def recovered() -> bool:
            return any(
                r.levelno == logging.INFO and "heartbeat" in r.getMessage()
                and "works again" in r.getMessage()
                for r in caplog.records
            )  # fmt: skip

        assert await until(recovered), "no line said the heartbeat works again"
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating
