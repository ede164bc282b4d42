"""`serve --engine-process` through a database outage: the engine process says once
that it cannot take handed-over runs, not an ERROR with a 25-line traceback every
second for as long as the outage lasts (a 20 s outage of an idle server wrote ~500
lines from this loop alone). Then at most one line a minute, and one line when it
takes runs again, as the heartbeat and the flush of run events say theirs
(engine/repeated_failures.py).

The runtime reaches PostgreSQL through a relay the test cuts (tests/relay.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import pytest
from held_runs import until

from engine.handoff import take_handoffs
from engine.runtime import Runtime

FAILED = "taking handed-over runs failed"


async def test_an_outage_under_the_engine_process_is_said_once_not_each_second(
    relayed_runtime: tuple[Runtime, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flowyard.handoff")
    rt, relay = relayed_runtime
    # Each attempt to listen again opens a connection: count them (the attempts).
    connects = [0]
    connect = rt.db.connect

    async def counting_connect(*args: Any, **kwargs: Any) -> Any:
        connects[0] += 1
        return await connect(*args, **kwargs)

    rt.db.connect = counting_connect  # type: ignore[method-assign]
    taking = asyncio.create_task(take_handoffs(rt))
    try:
        assert await until(lambda: connects[0] >= 1), "the engine never listened"
        await asyncio.sleep(0.5)  # LISTEN is set up
        relay.cut()
        # The first failure (the LISTEN connection closed), then a try a second: 3 more.
        assert await until(lambda: connects[0] >= 4, attempts=600), "it stopped trying"
        said = [r for r in caplog.records if r.name == "flowyard.handoff"]
        assert len(said) == 1, [r.getMessage() for r in said]
        assert said[0].levelno == logging.ERROR and said[0].exc_info is None  # one line
        assert said[0].getMessage().startswith(FAILED)
        assert "the database cannot be reached" in said[0].getMessage()

        relay.restore()

        def recovered() -> bool:
            return any(
                r.levelno == logging.INFO and r.getMessage().startswith("taking handed-over runs works again")
                for r in caplog.records
            )  # fmt: skip

        assert await until(recovered, attempts=600), "no line said it takes runs again"
    finally:
        taking.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await taking
