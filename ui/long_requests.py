"""The cap on requests that hold a server thread for long: live run streams,
`?wait=1` runs and `respond: sync` webhook deliveries waiting for their run.

They share one cap, half the server's threads (FLOWYARD_THREADS), so the other half
always answers /api/health, async deliveries and the API: 16 open streams on 16
threads made deliveries time out, and 48 sync deliveries waiting for a slow run held
every thread, /api/health included (its "503 degraded at once" of a hung database
too). Past the cap a stream answers what there is, a `?wait=1` run answers 202, and
a sync delivery is refused 503 before anything is stored (ui/webhooks.py).
"""

from __future__ import annotations

import functools
import threading

from ui.config import server_threads


@functools.cache
def slots() -> threading.BoundedSemaphore:
    """One slot per request that may hold a thread for long; take it without blocking."""
    return threading.BoundedSemaphore(max(1, server_threads() // 2))


class WaitSlot:
    """One request's claim on a slot, which the engine loop takes (or not) while it
    accepts a delivery, only once it knows the delivery waits (``respond: sync``):
    asking first would cost every delivery a second trip to the loop. Taken at most
    once and given back by the request's thread; a take that comes after the request
    has given up (its accept timed out on a stuck loop) is refused, so no slot leaks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._closed = False

    def take(self) -> bool:
        with self._lock:
            if not self._closed:
                self._held = slots().acquire(blocking=False)
            return self._held

    def release(self) -> None:
        with self._lock:
            self._closed = True
            if self._held:
                self._held = False
                slots().release()
