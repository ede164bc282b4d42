"""What a background task that retries says when it keeps failing, and how often.

The run events' flush (engine/inflight.py) is tried every 0.2 s for every run in
flight. Logged each time with its traceback, a database outage wrote five 2.5 KB
tracebacks a second per run. So, as the scheduler does for its ticks
(blocks/_submit_failures.py): the first failure of a cause is logged (a traceback
only for an unexpected error), then at most one line a minute while it lasts, and
one line when the task works again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from engine.database import server_unreachable

#: The cause of every failure while PostgreSQL cannot be reached.
_DATABASE = "database"


@dataclass
class _Failing:
    since: float
    said: float
    attempts: int = 1


class RepeatedFailures:
    """Failures of one retried task (``what``: "flushing run events"), by cause: the
    database unreachable, or an unexpected error (by its type)."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        say_again_after: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = logger
        self.what = what
        self.say_again_after = say_again_after
        self.clock = clock
        self._failing: dict[str, _Failing] = {}

    def failed(self, exc: Exception) -> None:
        database = server_unreachable(exc)
        cause = _DATABASE if database else type(exc).__qualname__
        now = self.clock()
        current = self._failing.get(cause)
        if current is not None:
            current.attempts += 1
            if now - current.said >= self.say_again_after:
                current.said = now
                self.log.error(
                    "%s still fails after %.0f s (%d attempts): %s",
                    self.what,
                    now - current.since,
                    current.attempts,
                    _one_line(exc),
                )
            return
        self._failing[cause] = _Failing(since=now, said=now)
        if database:
            self.log.error(
                "%s failed: the database cannot be reached (%s); retried until it answers,"
                " said again at most once a minute",
                self.what,
                _one_line(exc),
            )
        else:  # not an outage: a bug, whose traceback is worth its lines once
            self.log.error("%s failed", self.what, exc_info=(type(exc), exc, exc.__traceback__))

    def worked(self) -> None:
        """The task succeeded: whatever failed works again."""
        if not self._failing:
            return
        now = self.clock()
        for failing in self._failing.values():
            self.log.info(
                "%s works again (%d attempts failed over %.0f s)",
                self.what,
                failing.attempts,
                now - failing.since,
            )
        self._failing.clear()


def _one_line(exc: Exception) -> str:
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


#: What asyncpg logs (a WARNING with the traceback) each time it fails to reconnect a
#: pool below its ``min_size``, which it tries in the background after every release.
_POOL_FLOOR = "Failed to restore the pool connection floor"
#: What psycopg_pool logs (a WARNING) each time a connection attempt of the queue's
#: pool fails: ``error connecting in %r: %s`` (the pool's name, the error).
_PSYCOPG_CONNECT = "error connecting in "


class _LibraryRetries(logging.Filter):
    """A library's own retry, said as the tasks above say theirs: the first failed try
    in one line, then at most one a minute, with the count of those not said. Through a
    database outage asyncpg logged each failed reconnect of a pool with a 27-line
    traceback about once a second per pool (each health check, heartbeat or run
    released a connection and started the retry anew: ~300 lines in 20 s from an idle
    engine process), and psycopg_pool, the queue's, a line every few seconds for as long
    as it lasted. A record that is no such retry passes as it is."""

    def __init__(self, say_again_after: float = 60.0, clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.say_again_after = say_again_after
        self.clock = clock
        self._said: float | None = None
        self._unsaid = 0

    def said(self, record: logging.LogRecord) -> str | None:
        """The one line for ``record`` when it is a failed retry, else None."""
        raise NotImplementedError

    def filter(self, record: logging.LogRecord) -> bool:
        line = self.said(record)
        if line is None:
            return True
        now = self.clock()
        if self._said is not None and now - self._said < self.say_again_after:
            self._unsaid += 1
            return False
        more = f"; {self._unsaid} more since the last line" if self._unsaid else ""
        record.msg = f"{line}, said again at most once a minute{more}"
        record.args, record.exc_info, record.exc_text = None, None, None
        self._said, self._unsaid = now, 0
        return True


class _PoolFloorOutage(_LibraryRetries):
    """asyncpg's reconnects of a pool below its floor; one that is no outage (a bug)
    keeps its traceback."""

    def said(self, record: logging.LogRecord) -> str | None:
        exc = record.exc_info[1] if record.exc_info else None
        if not (isinstance(exc, Exception) and str(record.msg).startswith(_POOL_FLOOR)):
            return None
        if not server_unreachable(exc):
            return None
        return f"{_POOL_FLOOR}: the database cannot be reached ({_one_line(exc)}); asyncpg retries"


class _PsycopgConnectRetries(_LibraryRetries):
    """psycopg_pool's failed connection attempts (the queue's pool): whatever the cause
    (an outage, a refused password), each try says the same."""

    def said(self, record: logging.LogRecord) -> str | None:
        args = record.args if isinstance(record.args, tuple) else ()
        if not (str(record.msg).startswith(_PSYCOPG_CONNECT) and len(args) == 2):
            return None
        exc = args[1]
        why = _one_line(exc) if isinstance(exc, Exception) else str(exc)
        return f"{_PSYCOPG_CONNECT}{args[0]!r}: {why}; psycopg retries"


def quiet_pool_floor(
    logger: logging.Logger | None = None, clock: Callable[[], float] = time.monotonic
) -> None:
    """Say asyncpg's failed pool reconnects through an outage in one line a minute
    (once per process: every pool logs to the one ``asyncpg.pool`` logger)."""
    _quiet(logger or logging.getLogger("asyncpg.pool"), _PoolFloorOutage, clock)


def quiet_psycopg_connects(
    logger: logging.Logger | None = None, clock: Callable[[], float] = time.monotonic
) -> None:
    """Say the queue's failed connection attempts in one line a minute (once per
    process: every psycopg pool logs to the one ``psycopg.pool`` logger)."""
    _quiet(logger or logging.getLogger("psycopg.pool"), _PsycopgConnectRetries, clock)


def _quiet(logger: logging.Logger, kind: type[_LibraryRetries], clock: Callable[[], float]) -> None:
    if not any(isinstance(f, kind) for f in logger.filters):
        logger.addFilter(kind(clock=clock))
