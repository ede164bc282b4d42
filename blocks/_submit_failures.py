"""What the scheduler says when it cannot submit a tick, and how often.

A failed tick is retried every second. Logged each time with its traceback, a
database outage made each schedule write one every second in every process (five
schedules: 200 tracebacks in 40 s), and a workflow file deleted just before a tick
wrote a traceback per process until the next rescan dropped it. So: the first failure
of a cause is logged (a traceback only for an unexpected error), then at most one
line a minute while it lasts, and one line when submitting works again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.database import server_unreachable
from engine.model import WorkflowError

log = logging.getLogger("flowyard.schedule")

#: The cause every schedule shares: PostgreSQL cannot be reached.
_DATABASE = ("", "database")


@dataclass
class _Failing:
    since: float
    said: float
    attempts: int = 1
    schedules: set[tuple[str, str]] = field(default_factory=set)


class SubmitFailures:
    """Failures to submit ticks, by cause: the database (shared by every schedule)
    or one schedule's own (its workflow cannot be loaded, an unexpected error)."""

    def __init__(
        self, say_again_after: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.say_again_after = say_again_after
        self.clock = clock
        self._failing: dict[tuple[str, str], _Failing] = {}

    def failed(self, workflow: str, block: str, tick: dt.datetime, exc: Exception) -> None:
        database = server_unreachable(exc)
        cause = _DATABASE if database else (workflow, block)
        now = self.clock()
        current = self._failing.get(cause)
        if current is not None:
            current.attempts += 1
            current.schedules.add((workflow, block))
            if now - current.said >= self.say_again_after:
                current.said = now
                self._still(cause, current, exc)
            return
        self._failing[cause] = _Failing(since=now, said=now, schedules={(workflow, block)})
        reason = _one_line(exc)
        if database:
            log.error(
                "scheduler: cannot submit %s at %s: the database cannot be reached (%s);"
                " retrying every second, said again at most once a minute",
                workflow,
                tick,
                reason,
            )
        elif isinstance(exc, WorkflowError):  # deleted or broken since the last rescan
            log.warning(
                "scheduler: schedule %s.%s not submitted at %s: %s (retried every second, it"
                " runs once the file loads again; a deleted file's is dropped at the next rescan)",
                workflow,
                block,
                tick,
                reason,
            )
        else:
            log.error(
                "scheduler: cannot submit %s at %s; will retry",
                workflow,
                tick,
                exc_info=(type(exc), exc, exc.__traceback__),
            )

    def submitted(self, workflow: str, block: str) -> None:
        """A tick was submitted: the database, and this schedule, work again."""
        for cause in (_DATABASE, (workflow, block)):
            ended = self._failing.pop(cause, None)
            if ended is None:
                continue
            took = self.clock() - ended.since
            if cause == _DATABASE:
                log.info(
                    "scheduler: the database can be reached again: ticks are submitted"
                    " (%d attempts failed over %.0f s)",
                    ended.attempts,
                    took,
                )
            else:
                log.info(
                    "scheduler: schedule %s.%s submits again (%d attempts failed over %.0f s)",
                    workflow,
                    block,
                    ended.attempts,
                    took,
                )

    def _still(self, cause: tuple[str, str], failing: _Failing, exc: Exception) -> None:
        took = self.clock() - failing.since
        if cause == _DATABASE:
            log.error(
                "scheduler: the database still cannot be reached after %.0f s"
                " (%d schedules waiting, %d attempts): %s",
                took,
                len(failing.schedules),
                failing.attempts,
                _one_line(exc),
            )
        else:
            log.error(
                "scheduler: schedule %s.%s still cannot be submitted after %.0f s"
                " (%d attempts): %s",
                *cause,
                took,
                failing.attempts,
                _one_line(exc),
            )


def _one_line(exc: Exception) -> str:
    """The reason, on one line (a WorkflowError lists its problems one a line)."""
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
