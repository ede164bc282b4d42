"""The runs one process executes: a task each, chained per concurrency key; their
heartbeat, which stops any another process has taken over; their logs' flushes.

Runs sharing a key (of any workflow: a key is one for the database) run one at a
time, in the order they were spawned (the order they were accepted, or resumed
in). A run cancelled before it began — its task has
not taken a step yet, or it waits for its turn behind a run with the same key — is
withdrawn rather than its task cancelled: a cancelled task would end without a
word, leaving the run `queued` for the next start to resume and execute, and the
runs after it in the key's chain would stop waiting for the one ahead. So its
task stays in the chain and returns None when its turn comes, taking no slot, and
the caller records the run's end; those waiting for the run are answered once that
end is recorded (:meth:`InFlight.result`), not when its turn comes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from engine import runstore
from engine.recorder import OwnershipLost, RunRecorder
from engine.repeated_failures import RepeatedFailures

log = logging.getLogger("flowyard.runtime")


class InFlight:
    """``max_active``: how many runs execute at once (None: no limit). A run past it
    waits, `queued`, for one to end (a keyed run joins that queue once its key's
    turn has come, :meth:`_in_turn`): every run of an
    overloaded process shares its one event loop, webhook answers and
    ``/api/health`` included, and each extra run makes every turn of the loop longer."""

    def __init__(self, max_active: int | None = None) -> None:
        self._max_active = max_active or None
        self._slots = asyncio.Semaphore(max_active) if max_active else None
        self.tasks: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._tails: dict[str, asyncio.Task[Any]] = {}  # the last run spawned per key
        self._begun: set[str] = set()
        # Runs cancelled before they began, each with the canceller's outcome: True
        # once their end is recorded, False when it could not be (they run after all).
        self._withdrawn: dict[str, asyncio.Future[bool]] = {}
        # Set once a withdrawn run's end is recorded: wakes those waiting for it.
        self._ended: dict[str, asyncio.Event] = {}
        self.recorders: dict[str, RunRecorder] = {}  # the runs executing, by id
        # Runs asked to cancel while executing: one whose end could not be written
        # (the database went away) is ended cancelled, never continued.
        self.cancel_asked: set[str] = set()
        #: Set as the process stops: a run that has not begun (waiting for its key's
        #: turn or a slot) is left queued for the next start, not begun to be interrupted.
        self.stopping = False

    @property
    def executing(self) -> int:
        """Runs begun and not ended."""
        return len(self._begun)

    @property
    def waiting(self) -> int:
        """Runs waiting for their key's turn or a slot (withdrawn ones not counted)."""
        return len(self.tasks) - len(self._begun) - len(self._withdrawn)

    def slot_wait(self) -> bool:
        """Whether a run spawned now would wait for a slot: ``max_active`` runs are
        here already, executing or waiting (their tasks may not have asked yet)."""
        return self._max_active is not None and (
            len(self.tasks) - len(self._withdrawn) >= self._max_active
        )

    def say_interrupted(self) -> None:
        """Name each run a stop is about to interrupt: an operator looks for it later,
        as it stays `running` until the next start resumes it."""
        for eid, task in self.tasks.items():
            if eid in self._begun and not task.done():
                log.warning("run %s is interrupted by the stop: the next start resumes it", eid)

    def spawn(
        self, eid: str, run: Callable[[], Awaitable[dict[str, Any]]], key: str | None
    ) -> asyncio.Task[dict[str, Any] | None]:
        """Start ``run()`` in a task; with a ``key``, after the previous run with it.

        ``run`` makes the run's coroutine when its turn comes, not before: one made
        early and never started (its task cancelled as the process stops, while it
        waits for its key) was reported at exit as ``RuntimeWarning: coroutine …
        was never awaited``, which reads as a lost run (it resumes at the next start).
        """
        previous = self._tails.get(key) if key is not None else None
        task = asyncio.create_task(self._in_turn(eid, previous, run))
        self.tasks[eid] = task
        task.add_done_callback(lambda _t: self._forget(eid))
        if key is not None:
            self._tails[key] = task
            task.add_done_callback(
                lambda t: self._tails.pop(key) if self._tails.get(key) is t else None
            )
        return task

    def cancel(self, eid: str) -> bool | None:
        """None: no such run here (or withdrawn already). True: it had begun, its task
        is cancelled (the run records its own end). False: withdrawn before it began:
        the caller records its end, then calls :meth:`recorded` (or :meth:`restore`
        when it could not)."""
        task = self.tasks.get(eid)
        if task is None or task.done() or eid in self._withdrawn:
            return None
        if eid in self._begun:
            self.cancel_asked.add(eid)
            task.cancel()
            return True
        self._withdrawn[eid] = asyncio.get_running_loop().create_future()
        return False

    def recorded(self, eid: str) -> None:
        """A withdrawn run's end is recorded (or another process owns it now): it never
        begins here; those waiting for it are answered."""
        self._decide(eid, True)
        self._ended.setdefault(eid, asyncio.Event()).set()

    def restore(self, eid: str) -> None:
        """Undo a withdrawal whose end could not be recorded: the run executes in its
        turn as if never cancelled (its turn waits for this outcome)."""
        self._decide(eid, False)
        self._withdrawn.pop(eid, None)

    def _decide(self, eid: str, withdrawn: bool) -> None:
        outcome = self._withdrawn.get(eid)
        if outcome is not None and not outcome.done():
            outcome.set_result(withdrawn)

    async def _is_withdrawn(self, eid: str) -> bool:
        """Whether the run was withdrawn, once its canceller knows (a run whose turn
        comes while its cancel is being recorded waits for that)."""
        outcome = self._withdrawn.get(eid)
        return outcome is not None and await asyncio.shield(outcome)

    async def result(
        self, eid: str, task: asyncio.Task[dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """The run's result, or None once it was withdrawn and its end recorded."""
        if task.done():
            return task.result()
        ended = self._ended.setdefault(eid, asyncio.Event())
        recorded = asyncio.ensure_future(ended.wait())
        try:
            await asyncio.wait([task, recorded], return_when=asyncio.FIRST_COMPLETED)
        finally:
            recorded.cancel()
        return task.result() if task.done() else None

    def lose(self, eid: str) -> None:
        """Another process took run ``eid`` over: stop executing it here, writing
        nothing more (its task ends in the OwnershipLost path of Runtime._execute)."""
        recorder = self.recorders.get(eid)
        task = self.tasks.get(eid)
        if recorder is not None and task is not None:
            recorder.lost = True
            task.cancel()

    async def _in_turn(
        self,
        eid: str,
        previous: asyncio.Task[Any] | None,
        run: Callable[[], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any] | None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        if await self._is_withdrawn(eid):  # cancelled: it takes no slot
            return None
        if self._slots is None:
            return await self._begin(eid, run)
        # Taken after the key's turn: a run waiting behind the run ahead with its key
        # would hold a slot doing nothing, while runs that could execute wait for it.
        async with self._slots:
            return await self._begin(eid, run)

    async def _begin(
        self, eid: str, run: Callable[[], Awaitable[dict[str, Any]]]
    ) -> dict[str, Any] | None:
        if self.stopping:  # as if cancelled by the stop: the run stays queued
            raise asyncio.CancelledError
        if await self._is_withdrawn(eid):  # cancelled while it waited for a slot
            return None
        self._begun.add(eid)
        return await run()

    def _forget(self, eid: str) -> None:
        self.tasks.pop(eid, None)
        self.cancel_asked.discard(eid)
        self._begun.discard(eid)
        self._withdrawn.pop(eid, None)
        self._ended.pop(eid, None)


async def flush(runs: InFlight, interval: float) -> None:
    """Write buffered run events at least every ``interval`` s (live progress)."""
    failures = RepeatedFailures(log, "flushing run events")
    while True:
        await asyncio.sleep(interval)
        for recorder in list(runs.recorders.values()):
            if recorder.pending and recorder.refused is None:  # refused: its end writes them
                try:
                    await recorder.flush()
                except OwnershipLost:
                    runs.lose(recorder.execution_id)
                except Exception as exc:  # the run's own final write reports real trouble
                    failures.failed(exc)  # once, then at most once a minute
                else:
                    failures.worked()


async def beat(runs: InFlight, pool: asyncpg.Pool, owner: str, interval: float) -> None:
    """Mark the runs ``owner`` holds alive every ``interval`` s; stop those another
    process has taken over meanwhile (it found this one silent: a pause, a cut network).
    A database outage is said once, then at most once a minute: each failed beat was an
    ERROR with its traceback every ``interval`` s for as long as the outage lasted."""
    failures = RepeatedFailures(log, "the heartbeat of the runs in flight")
    while True:
        await asyncio.sleep(interval)
        executing = list(runs.recorders)  # before the beat: later runs are not in it
        try:
            # Only runs held here: one whose task died of a bug must go stale, so a
            # restart, `runs resume` or another process can take it over.
            owned = await runstore.beat(pool, owner, list(runs.tasks))
        except Exception as exc:  # the next beat will try again
            failures.failed(exc)
            continue
        failures.worked()
        for eid in executing:
            if eid not in owned:
                runs.lose(eid)
