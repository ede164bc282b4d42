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
