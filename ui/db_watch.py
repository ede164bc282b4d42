"""Whether the database is answering this server, so that while it hangs the
requests that need it are answered at once instead of each holding a server thread.

A database that refuses (stopped, no route) fails a request in a moment. One that
hangs (its host paused, a network dropping packets, PostgreSQL stopped with SIGSTOP)
fails nothing: every webhook delivery waited for its time limit, and the waitress
threads (FLOWYARD_THREADS) were soon all waiting — `/api/health` among the requests
that then got no answer at all. So a request that waits on the database longer than
SUSPECT_AFTER_S has it probed (``SELECT 1`` on the run-log pool, what storing a run
needs); a probe it does not answer in PROBE_TIMEOUT_S marks it *stalled*: the
deliveries waiting are answered 503 now, later ones without asking it, and
`/api/health` says `degraded` without probing. The probe is repeated every
PROBE_EVERY_S until the database answers; then it is no longer stalled.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

from engine.repeated_failures import RepeatedFailures
from ui.bridge import EngineBridge

T = TypeVar("T")
log = logging.getLogger("flowyard.ui")

#: A request still waiting on the database after this long has it probed.
SUSPECT_AFTER_S = 2.0
#: A probe unanswered for this long marks the database stalled.
PROBE_TIMEOUT_S = 3.0
#: While stalled, the probe is sent again this often.
PROBE_EVERY_S = 1.0


class DatabaseWatch:
    """One per server (ui/app.py): shared by its request threads and its engine loop."""

    def __init__(self, bridge: EngineBridge) -> None:
        self._bridge = bridge
        self._lock = threading.Lock()
        self._stalled = False
        self._probing = False
        self._waiting: set[threading.Event] = set()
        #: A load balancer probes /api/health every few seconds: a line per degraded
        #: answer was 1,800 identical lines an hour of outage. Said once, at most once
        #: a minute, and when it answers again.
        self.health_failures = RepeatedFailures(log, "the health check")

    @property
    def stalled(self) -> bool:
        """The last probe got no answer, and none has since."""
        return self._stalled

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` (which needs the database) on the engine loop and wait for it:
        at most ``timeout`` s, less once the database is found stalled meanwhile. Both
        raise TimeoutError, ``coro`` cancelled."""
        future = self._bridge.submit(coro)
        woken = threading.Event()
        future.add_done_callback(lambda _f: woken.set())
        with self._lock:
            self._waiting.add(woken)
            stalled = self._stalled
        try:
            started = time.monotonic()
            if not woken.wait(timeout if stalled else min(timeout, SUSPECT_AFTER_S)):
                if not stalled:
                    self.suspect()
                    woken.wait(max(0.0, timeout - (time.monotonic() - started)))
            if not future.done():
                future.cancel()
            if future.done() and not future.cancelled():
                return future.result()
            self.suspect()
            raise TimeoutError("the database did not answer in time")
        finally:
            with self._lock:
                self._waiting.discard(woken)

    def suspect(self) -> None:
        """Probe the database, unless a probe is under way already."""
        with self._lock:
            if self._probing:
                return
            self._probing = True
        try:
            self._bridge.submit(self._probe())
        except RuntimeError:  # the engine loop is closed: the server is stopping
            with self._lock:
                self._probing = False

    async def _probe(self) -> None:
        pool = self._bridge.runtime.db.log_pool
        attempt: asyncio.Future[Any] | None = None
        try:
            while not pool.is_closing():  # the server stops: nobody to answer
                if attempt is None or attempt.done():
                    attempt = asyncio.ensure_future(pool.fetchval("SELECT 1"))
                    attempt.add_done_callback(_retrieved)
                # Not wait_for: it waits for the cancelled query to wind up, which
                # asks the database, which does not answer.
                await asyncio.wait({attempt}, timeout=PROBE_TIMEOUT_S)
                if attempt.done() and not attempt.cancelled() and attempt.exception() is None:
                    self._mark(False)
                    return
                attempt.cancel()
                why = attempt.exception() if attempt.done() and not attempt.cancelled() else None
                self._mark(True, why or TimeoutError())
                await asyncio.sleep(PROBE_EVERY_S)
        finally:
            with self._lock:
                self._probing = False

    def _mark(self, stalled: bool, why: BaseException | None = None) -> None:
        with self._lock:
            changed, self._stalled = self._stalled != stalled, stalled
            waiting = list(self._waiting) if changed and stalled else []
        for woken in waiting:  # answer them now: the database is not answering
            woken.set()
        if changed and stalled:
            log.warning("the database is not answering (%s): webhook deliveries are answered"
                        " 503 until it does", type(why).__name__)  # fmt: skip
        elif changed:
            log.warning("the database answers again")


def _retrieved(attempt: asyncio.Future[Any]) -> None:
    """Read a probe's error: one the probe gave up on is read by nobody, and asyncio
    would log it as never retrieved."""
    if not attempt.cancelled():
        attempt.exception()
