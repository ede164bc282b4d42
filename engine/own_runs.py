"""Runs this process owns in the database but is not executing: own orphans.

A run's row names the process that executes it (``owner``), and only that process
beats it. Other processes take a run over when its owner is dead or silent
(engine/recovery.py); none ever takes a run of a live process that keeps beating.
So a run a live process owns but has no task for stayed `queued` for good when no
other process was there to find it silent: an accepting INSERT the webhook route
gave up on (the database hung past the delivery's time limit: the sender was
answered 503, the statement committed once PostgreSQL resumed, and nothing started
the run), or a run whose task died of a bug. The process's own periodic sweep
(Resumption.take_over_orphans) resumes such runs too.

It must never start a run a second time that it is already executing, or about to.
Between making itself a run's owner and spawning its task, a coroutine awaits (the
accepting INSERT's answer, a claim's, the run's log); so does a cancel between
withdrawing a run's task and recording its end. :class:`Starts` counts those
coroutines: the sweep waits until every one that began before it read a run has
settled, then takes only runs that are neither in a task nor held by one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Iterator

#: A run's owner beats it every heartbeat; one it has not beaten for this many
#: heartbeats is not being executed (it is also checked in memory: see Starts).
UNBEATEN_BEATS = 2

#: Unfinished runs of ``$1`` not beaten for ``$2`` s (on the unfinished-runs index).
OWN_UNBEATEN = """
    SELECT execution_id FROM flowyard_runs
     WHERE status IN ('queued', 'running') AND owner = $1
       AND heartbeat_at < now() - make_interval(secs => $2)
"""

#: Those of them still so, beaten now: a process claiming them as silent at the
#: same moment waits for the row lock, then finds them beaten, and takes nothing.
RECLAIM_OWN = """
    UPDATE flowyard_runs SET heartbeat_at = now()
     WHERE execution_id = ANY($2::uuid[]) AND owner = $1
       AND status IN ('queued', 'running')
       AND heartbeat_at < now() - make_interval(secs => $3)
    -- the input as it came, not as stored redacted (engine/intake.py)
    RETURNING execution_id, workflow_hash, COALESCE(unredacted_input, input) AS input,
              concurrency_key, created_at, rerun_of, trigger_block
"""


class Starts:
    """The coroutines of this process between owning a run and handing it to a task.

    ``starting()``: around a statement that may make this process the owner of runs
    (accepting a run to execute here, claiming runs) and the spawning of their tasks.
    ``holding(eid)``: around recording the end of a run this process owns outside
    its task (a cancel before it began)."""

    def __init__(self) -> None:
        self._next = 0
        self._pending: set[int] = set()
        self._held: Counter[str] = Counter()

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        token = self._next
        self._next += 1
        self._pending.add(token)
        try:
            yield
        finally:
            self._pending.discard(token)

    @contextlib.contextmanager
    def holding(self, eid: str) -> Iterator[None]:
        self._held[eid] += 1
        try:
            yield
        finally:
            self._held[eid] -= 1
            if not self._held[eid]:
                del self._held[eid]

    def holds(self, eid: str) -> bool:
        return eid in self._held

    def mark(self) -> int:
        """Taken once a read of the run table has returned: a coroutine that made this
        process a run's owner before that read began has a token below the mark."""
        return self._next

    async def settled(self, mark: int, timeout: float) -> bool:
        """Wait until every ``starting()`` begun before ``mark`` has ended (its runs
        are in tasks now, or were never stored); False if that took over ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(token < mark for token in self._pending):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True
