"""The event loop every flowyard process runs its engine on.

uvloop (libuv's loop, by asyncpg's authors) does the loop's own work in C: waking on
sockets, reading and writing them, the callback queue. That bookkeeping is a
sizeable share of a run's CPU in the standard library's loop, where a run makes ~18
round trips to PostgreSQL and one or two HTTP requests (docs/performance.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop of the kind flowyard runs on."""
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on that kind of loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
