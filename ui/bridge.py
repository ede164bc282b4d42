"""The bridge between Flask's request threads and the engine's asyncio loop.

One event loop per server process runs in a background thread and owns the
engine (its asyncpg pool, executor, workers). Request threads hand coroutines to
it with ``run_coroutine_threadsafe`` and wait only as long as the response needs
(DESIGN.md section 6); nothing in a view ever blocks the loop itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from engine._loop import new_event_loop

T = TypeVar("T")


class EngineTimeout(TimeoutError):
    """A request's wait for the engine ran out (``EngineBridge.call``). Not, by itself,
    a database outage, as the TimeoutError it is (an OSError) would be taken for: a read
    of a huge run on a healthy database runs out too (ui/slow_answers.py tells them
    apart). ``what``: what the request was doing ("reading the run"), if said."""

    def __init__(self, seconds: float, what: str | None = None) -> None:
        self.seconds = seconds
        self.what = what or "the request"
        super().__init__(f"{self.what} took longer than {seconds:g} s")


class EngineBridge:
    """Runs an engine Runtime on a private event loop in a daemon thread."""

    def __init__(self, runtime: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.runtime = runtime
        self._own_loop = loop is None
        self.loop = loop or new_event_loop()
        self._thread: threading.Thread | None = None
        self._waits: set[concurrent.futures.Future[Any]] = set()
        self._waits_lock = threading.Lock()
        #: Set when the server stops (``release_waits``): live run streams end on it,
        #: or waitress waits for their threads (5 s) before the engine even stops.
        self.stopping = threading.Event()
        #: ``serve --engine-process``'s engine process (ui/engine_process.py), whose
        #: state /api/health and /metrics report.
        self.engine_process: Any = None

    # -- lifecycle -----------------------------------------------------------
    def start(self, start_runtime: bool = True, timeout: float = 120.0) -> EngineBridge:
        if self._own_loop and self._thread is None:
            ready = threading.Event()

            def _run() -> None:
                asyncio.set_event_loop(self.loop)
                self.loop.call_soon(ready.set)
                self.loop.run_forever()

            self._thread = threading.Thread(target=_run, name="flowyard-engine", daemon=True)
            self._thread.start()
            ready.wait(timeout)
        if start_runtime:
            self.call(self.runtime.start(), timeout=timeout)
        return self

    def stop(
        self,
        timeout: float = 30.0,
        grace: float = 0.0,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Close the runtime, its runs in flight given ``grace`` seconds to end; then
        await ``then()`` (what must end on the loop before the loop stops)."""

        async def close() -> None:
            try:
                await self.runtime.close(grace)
            finally:
                if then is not None:
                    await then()

        try:
            self.call(close(), timeout=timeout + grace)
        finally:
            if self._own_loop and self._thread is not None:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout)
                self._thread = None

    # -- calls from request threads -----------------------------------------
    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start ``coro`` on the engine loop; its future, for the caller to wait on."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(
        self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0, what: str | None = None
    ) -> T:
        """Run ``coro`` on the engine loop and wait for its result in this thread, at
        most ``timeout`` s: then ``coro`` is cancelled and EngineTimeout raised."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            if future.done():  # its own TimeoutError (a connect timeout), or just ended
                return future.result()
            future.cancel()
            raise EngineTimeout(timeout or 0.0, what) from None

    def wait(self, coro: Coroutine[Any, Any, T], timeout: float | None) -> T:
        """``call`` for a request that only waits for a run's end (``?wait=1``):
        ``release_waits`` ends it with ``concurrent.futures.CancelledError`` when the
        server stops, so it is answered while its connection is still open (the run
        itself goes on, or resumes at the next start)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        with self._waits_lock:
            self._waits.add(future)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise
        finally:
            with self._waits_lock:
                self._waits.discard(future)

    def release_waits(self) -> None:
        """Answer every request waiting in ``wait`` now, and end the live streams
        watching ``stopping``: the server is stopping."""
        self.stopping.set()
        with self._waits_lock:
            waits = list(self._waits)
        for future in waits:
            future.cancel()

    def call_fn(self, fn: Callable[[], Awaitable[T]], timeout: float | None = 30.0) -> T:
        async def _wrap() -> T:
            return await fn()

        return self.call(_wrap(), timeout)
