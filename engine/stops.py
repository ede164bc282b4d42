"""A block's failure, and how it stops the blocks running beside it.

When a block fails for good, its region (and, through their containers, the
regions around it) stops the blocks still running. One whose effect outside the
run is under way finishes that attempt and begins no other: interrupted, a
committed INSERT was recorded "interrupted" and a re-run inserted it again. A
cancel, a shutdown or a timeout interrupts everything. Regions
(engine/executor.py) and a parallel's bodies (blocks/parallel.py) stop alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from contextvars import ContextVar
from typing import Any

#: Why a region stops its running blocks when one of them failed (the message of
#: the cancellation, which reaches nested regions through their containers).
SIBLING_FAILED = "a sibling block failed"

#: The failures whose stop is under way, by where (a region's path prefix, ``par[`` for
#: a parallel's bodies), for a timeout that cuts one short (Stops.stopped_by).
_STOPS: ContextVar[dict[str, dict[str, Any]]] = ContextVar("flowyard_stops")


class BlockFailed(Exception):
    """A block failed for good; ``error`` is the SPEC's ``{type, message, block}``.

    ``final``: another attempt cannot help (its handler said so: an HTTP 400, a
    refused API key), so neither can running again the body of a loop or parallel
    around it (engine/executor.py). ``retry_after``: the seconds its peer asked to be
    left alone (a 429's Retry-After), which a container's `retries` wait out too
    before they run the body again."""

    def __init__(
        self, error: dict[str, Any], final: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(error["message"])
        self.error = error
        self.final = final
        self.retry_after = retry_after


def is_final(exc: Exception, category: str) -> bool:
    """Whether another attempt cannot help: the handler said so (``retriable = False``,
    or its own ``BlockFailed``), or, for a loop or parallel, the body's failure is such
    a one: running the body again sent every earlier iteration's requests again."""
    if isinstance(exc, BlockFailed):
        return exc.final if category == "container" else True
    return getattr(exc, "retriable", True) is False


def error_dict(exc: BaseException, block: str) -> dict[str, Any]:
    if isinstance(exc, BlockFailed):
        return exc.error
    kind = getattr(exc, "kind", None) or type(exc).__name__
    message = str(exc) or kind
    if isinstance(exc, TimeoutError) and not str(exc):
        message = "timed out"
    return {"type": kind, "message": message, "block": block}


def stop_reason(exc: BaseException) -> str | None:
    """Why a region is stopping: a failure in it (or, through a container, in an
    enclosing region's block), or None for anything that must interrupt at once."""
    cancelled = isinstance(exc, asyncio.CancelledError)
    return SIBLING_FAILED if not cancelled or SIBLING_FAILED in exc.args else None


async def wait_out(tasks: Collection[asyncio.Task[Any]], cause: BaseException, where: str) -> None:
    """Wait for the tasks a stop for ``cause`` left to end (see Stops.stop).

    A failure further out (a cancel saying SIBLING_FAILED) does not hurry them: they
    are stopping already. Anything else (a cancel, a shutdown, a timeout) interrupts
    them all; a container whose timeout it is then fails with ``cause`` instead."""
    stops = None if isinstance(cause, asyncio.CancelledError) else _STOPS.get(None)
    if stops is not None:
        stops.setdefault(where, error_dict(cause, where))
    ended = asyncio.gather(*tasks, return_exceptions=True)
    stopped: asyncio.CancelledError | None = None  # raised once they end
    while not ended.done():
        try:
            await asyncio.wait([ended])
        except asyncio.CancelledError as cancel:
            if stop_reason(cancel) is None:  # their records still end before it is raised
                for task in tasks:
                    task.cancel()
            if stopped is None or stop_reason(cancel) is None:
                stopped = cancel
    if stops is not None and (stopped is None or stop_reason(stopped)):
        stops.pop(where, None)
    if stopped is not None:
        raise stopped


class Stops:
    """One run's stops: the effects under way they let finish, and the failures
    they are stopping for."""

    __slots__ = ("effects_in_flight", "finishing", "failures")

    def __init__(self) -> None:
        # Paths of blocks whose effect outside the run is under way, and of those a
        # stop lets finish that attempt and begin no other (see stop).
        self.effects_in_flight: set[str] = set()
        self.finishing: set[str] = set()
        self.failures: dict[str, dict[str, Any]] = {}  # _STOPS in this run's tasks

    def record_here(self) -> None:
        """Have the run's task, and the tasks it starts, record their stops here."""
        _STOPS.set(self.failures)

    async def stop(
        self, running: dict[asyncio.Task[str | None], str], prefix: str, cause: BaseException
    ) -> None:
        """Stop a region's running blocks; when a sibling failed, one whose effect
        outside the run is under way finishes that attempt and begins no other."""
        reason = stop_reason(cause)
        finishing = {prefix + n for n in running.values() if reason} & self.effects_in_flight
        for task, node in running.items():
            if prefix + node not in finishing:
                task.cancel(reason)
        self.finishing |= finishing
        try:
            await wait_out(running, cause, prefix)
        finally:
            self.finishing -= finishing

    def stopped_by(self, path: str) -> dict[str, Any] | None:
        """The failure whose stop in container ``path`` its timeout cut short (the first
        if several): the container fails with it, as it was failing before the timeout."""
        failures = [self.failures.pop(w) for w in list(self.failures) if w.startswith(path + "[")]
        return failures[0] if failures else None
