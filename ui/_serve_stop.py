"""How ``flowyard serve`` stops once it no longer accepts requests: within the
shutdown grace plus :data:`STOP_MARGIN_S` (docs/deploy.md, "Stopping"), whether the
database answers or not.

The scheduler and the queue worker were stopped first and given 10 s, and only then
the runs their grace: with PostgreSQL away, procrastinate's worker cannot unregister
itself (it waits for a connection its pool cannot make), so every stop took the
grace plus ~12 s, past a supervisor's stop timeout sized "more than the grace".
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from typing import Any

from ui.bridge import EngineBridge

log = logging.getLogger("flowyard.serve")

#: What a stop may take beyond the grace (docs/deploy.md): the scheduler and the
#: queue worker ending, the pools closing.
STOP_MARGIN_S = 5.0

#: The least the scheduler and the queue worker are given to end before the runtime
#: closes, even with a grace of 0: with the database up and no jobs they end at once.
_BACKGROUND_LEAST_S = 1.0


def stop_serving(bridge: EngineBridge, background: Any, grace: float, engine: Any = None) -> None:
    """Stop the background tasks, the engine process if any, then the runtime; runs in
    flight get ``grace`` seconds in all, not per step."""
    started = time.monotonic()
    # The worker's jobs are runs in flight: waiting for them is their grace. Not
    # cancelled when it is up: the runtime's closing ends what still holds it (it
    # cancels the runs, and closing the queue's pool fails a wait for a connection).
    closing = bridge.submit(background.close())
    with contextlib.suppress(Exception):  # stopping goes on whatever it says
        closing.result(max(grace, _BACKGROUND_LEAST_S))
    if engine is not None:
        engine.stop(timeout=30.0 + grace)
    left = max(0.0, grace - (time.monotonic() - started))

    async def background_ended() -> None:
        await _ended(closing, STOP_MARGIN_S - _BACKGROUND_LEAST_S)

    bridge.stop(grace=left, then=background_ended)


async def _ended(closing: concurrent.futures.Future[None], within: float) -> None:
    """Await the background's closing, left running while the runtime closed; one
    still going after ``within`` s is cancelled (and awaited: a task left pending
    when the loop stops is logged `Task was destroyed but it is pending!`)."""
    waiting = asyncio.wrap_future(closing)
    await asyncio.wait([waiting], timeout=within)
    if not waiting.done():
        log.warning("the scheduler and the queue worker did not stop in time; cancelled")
        waiting.cancel()
        await asyncio.wait([waiting], timeout=1.0)
    if not waiting.cancelled() and waiting.exception() is not None:
        log.warning("stopping the scheduler and the queue worker failed: %r", waiting.exception())
