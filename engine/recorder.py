"""Recording a run: its events buffered and written in one multi-row statement.

Flushed before a block with effects outside the run starts (when a resume would
reuse something waiting), every ``FLUSH_INTERVAL_S`` (engine/runtime.py) while it
is live, and when it ends together with the run row's final status ("checkpoint
before side effects", DESIGN.md 4). The rows themselves: engine/runstore.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from engine._json import dumps
from engine._recordable import not_recordable, storable, within_limit
from engine._recorder_sql import (
    FENCED_APART,
    FINISH_RUN,
    FINISH_RUN_NOTIFY,
    INSERT_EVENTS,
    INSERT_EVENTS_LOCKED,
    OWN_SETTINGS,
    OWNED,
    START_RUN,
    TRANSACTION,
)
from engine.redaction import Redactor
from engine.refusals import REFUSED, RunLogRefused, reason, refusal_error, salvage


def _now() -> float:
    """The time of an event, in whole microseconds (what PostgreSQL keeps): a value
    written with to_timestamp() reads back as the very time kept here (``_iso``)."""
    return time.time_ns() // 1000 / 1e6


def _iso(epoch: float | None) -> str | None:
    """A time kept here as the stored run shows it (engine.runstore._iso)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


#: One event row: seq, type, block, data (JSON text), time.
Event = tuple[int, str, str | None, str, float]

#: Buffered events, or characters of their JSON, that make the buffer ``full``: the
#: executor then flushes before going on. Bounds a run's memory between the periodic
#: flushes (engine/inflight.py): a loop folding a state that grows with each step
#: buffers the whole state twice per step, so a count alone let megabytes pile up.
FLUSH_AT_EVENTS = 5000
FLUSH_AT_CHARS = 4 * 1024 * 1024


def _columns(rows: list[Any]) -> list[list[Any]]:
    return [[e[i] for e in rows] for i in range(5)]


def _with(cols: list[list[Any]], event: Event) -> list[list[Any]]:
    """Event columns with ``event`` added last."""
    return [[*col, value] for col, value in zip(cols, event, strict=True)]


async def _written_if(owned: Awaitable[Any], conn: asyncpg.Connection, sql: str, args: Any) -> str:
    """``sql`` run on ``conn`` once ``owned`` found the run still this process's, else
    the status of a fenced statement that wrote nothing."""
    if await owned is None:
        return "INSERT 0 0"
    return await conn.execute(sql, *args)


class OwnershipLost(BaseException):
    """Another process has taken this run over: stop executing it and write nothing
    more, its log and its end are the new owner's. A BaseException, like
    CancelledError: no block's error handling or retry may catch it."""


def _written(status: str) -> bool:
    """Whether a fenced statement wrote: its status tag ends with the row count."""
    return not status.endswith(" 0")


class RunRecorder:
    """Buffers one run's events and writes them in one statement per flush."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        execution_id: str,
        secrets: set[str],
        owner: str,
        next_seq: int = 1,
        notify_finish: bool = False,
        started_at: float | None = None,
    ) -> None:
        self.pool = pool
        self.owner = owner
        #: Set when a write found the run taken over (or the heartbeat did): every
        #: later write raises at once, without a round trip.
        self.lost = False
        self._finish_sql = FINISH_RUN_NOTIFY if notify_finish else FINISH_RUN
        self.execution_id = execution_id
        self.redact = Redactor(secrets)
        self.seq = next_seq
        self._buf: list[Event] = []
        self._chars = 0  # of the buffered events' data
        # Buffered events a resume would reuse (all but block_started): what a
        # checkpoint before a side effect has to make durable.
        self._reusable = 0
        # When the run first started: set for a resumed run, whose row keeps that start.
        self._started_at: float | None = started_at
        self._start_pending = False
        # Flushes are serialized so events commit in seq order (live readers poll by seq).
        self._lock = asyncio.Lock()
        #: Set when storable() changed a text (a NUL, a lone surrogate): the result
        #: handed to the run's caller is then made to match (Runtime._execute).
        self.replaced = False
        #: Why, once the database refused part of the run's record (RunLogRefused).
        self.refused: str | None = None

    @property
    def pending(self) -> int:
        return len(self._buf)

    @property
    def full(self) -> bool:
        """Whether the buffer has grown enough to be written before the run goes on."""
        return len(self._buf) >= FLUSH_AT_EVENTS or self._chars >= FLUSH_AT_CHARS

    def add(
        self,
        type_: str,
        block: str | None = None,
        data: dict[str, Any] | None = None,
        step_limit: int | None = None,
    ) -> None:
        self.append(self._event(type_, block, data, step_limit=step_limit))

    def encoded(
        self,
        type_: str,
        block: str,
        data: dict[str, Any],
        step_limit: int | None = None,
        measure: bool = False,
    ) -> tuple[Event, int | None]:
        """A block's event made ahead of ``append``, inside the block's own error
        handling: a value the run log cannot hold (an integer too long to write)
        then fails the block, named, instead of the run outside any block with the
        block left `running` (engine/executor.py). ``append`` it at once: it has
        taken the next seq. ``step_limit``: engine._recordable.within_limit.

        With it, when ``measure`` (a block of a container's body), the characters of
        JSON of ``data``'s ``output`` (its first key, encoded apart from the rest for
        that; None in a run with secrets): what a loop or parallel counts of its
        `results` without encoding them again (blocks/_collected.py). A top-level block's
        event is encoded in one piece: nothing counts its size."""
        try:
            if not measure or self.redact.secrets or next(iter(data), None) != "output":
                return self._event(type_, block, data, step_limit=step_limit), None
            output = self._json(data["output"])
            rest = self._json({k: v for k, v in data.items() if k != "output"})
            text = '{"output":' + output + ("," + rest[1:] if len(rest) > 2 else "}")
            return self._event(type_, block, data, step_limit=step_limit, text=text), len(output)
        except (TypeError, ValueError, RecursionError) as exc:
            raise not_recordable(data.get("output"), exc) from None

    def append(self, event: Event) -> None:
        self._buf.append(event)
        self._chars += len(event[3])
        self._reusable += 1

    def _event(
        self,
        type_: str,
        block: str | None,
        data: dict[str, Any] | None,
        at: float | None = None,
        step_limit: int | None = None,
        text: str | None = None,
    ) -> Event:
        """One event row, taking the next seq (``text``: ``data`` encoded already)."""
        text = within_limit(self._text(type_, data) if text is None else text, data, step_limit)
        self.seq += 1
        return (self.seq - 1, type_, block, text, _now() if at is None else at)

    def _text(self, type_: str, data: dict[str, Any] | None) -> str:
        if not data:
            return "{}"
        if not self.redact.secrets:
            return self._json(data)
        text, lost = self.redact.fields(data, self._json)  # encoded once, field by field
        if type_ in ("block_succeeded", "block_failed") and "output" in lost:
            # The output a resume or a re-run would reuse lost a secret: they run the
            # block again instead (engine/recovery.py).
            text, _ = self.redact.fields({**data, "redacted": True}, self._json)
        return text

    def _json(self, value: Any) -> str:
        """``value`` as JSON text the run log can store (see ``replaced``)."""
        text = dumps(value)
        stored = storable(text)
        if stored is not text:
            self.replaced = True
        return stored

    def started_block(self, path: str, attempt: int) -> None:
        """``block_started``: the most frequent event, its text built without an encoder."""
        self._buf.append((self.seq, "block_started", path, f'{{"attempt":{attempt}}}', _now()))
        self.seq += 1

    @property
    def started_at(self) -> float | None:
        return self._started_at

    def started(self) -> None:
        # A fresh run: one time for the event and the run row (the run viewer reads the
        # one, the API the other). A resumed run's row keeps its first start.
        now = _now()
        self._started_at = self._started_at or now
        self._start_pending = True
        self._buf.append(self._event("run_started", None, None, now))
        self._reusable += 1

    def _take(self) -> tuple[list[Any], int, list[list[Any]]]:
        """The buffer (emptied), its reusable count, and its events as columns."""
        rows, self._buf = self._buf, []
        reusable, self._reusable = self._reusable, 0
        self._chars = 0
        return rows, reusable, _columns(rows)

    def _put_back(self, rows: list[Any], reusable: int) -> None:
        """Unwritten events go back in front of newer ones: a transient database
        error loses nothing (the next flush retries them)."""
        self._buf = rows + self._buf
        self._reusable += reusable
        self._chars += sum(len(row[3]) for row in rows)

    def _check_owned(self) -> None:
        if self.lost:
            raise OwnershipLost(self.execution_id)

    def _fenced(self, status: str) -> None:
        """After a fenced statement: raise if it found the run taken over."""
        if not _written(status):
            self.lost = True
            raise OwnershipLost(self.execution_id)

    async def _write(self, rows: list[Any], reusable: int, sql: str, *args: Any) -> None:
        """Run the fenced statement to its end, even if the caller is cancelled
        meanwhile (a sibling block failed): it may commit all the same, and rows put
        back after they were written would be written again by ``finish``, which
        then fails on (execution_id, seq) and leaves the run `running` for good.
        So the outcome decides what is put back; a cancellation is re-raised after."""
        self._check_owned()
        task = asyncio.ensure_future(self.pool.execute(sql, self.execution_id, self.owner, *args))
        cancelled = False
        while not task.done():
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError:
                cancelled = True
        error = asyncio.CancelledError() if task.cancelled() else task.exception()
        if error is not None:
            self._put_back(rows, reusable)
        if cancelled:
            raise asyncio.CancelledError
        if error is not None:
            raise error
        self._fenced(task.result())

    async def flush(self, checkpoint: bool = False) -> None:
        """Write the buffered events. A ``checkpoint`` (before a side effect) only
        writes when something a resume would reuse is waiting: sibling branches
        starting side effects at once then cost one write, not one each."""
        async with self._lock:
            if self.refused is not None:  # the run stops: no side effect begins
                raise RunLogRefused(self.refused)
            if checkpoint and not self._reusable and not self._start_pending:
                return
            if not self._buf and not self._start_pending:
                return
            rows, reusable, cols = self._take()
            try:
                if self._start_pending:
                    await self._write(rows, reusable, START_RUN, *cols, self._started_at)
                    self._start_pending = False
                else:
                    await self._write(rows, reusable, INSERT_EVENTS, *cols)
            except REFUSED as exc:  # put back: ``finish`` writes what it can of them
                self.refused = reason(exc)
                raise RunLogRefused(self.refused) from exc

    async def commit_in(
        self,
        conn: asyncpg.Connection,
        commit: Callable[[], Awaitable[Any]],
        type_: str,
        data: dict[str, Any],
    ) -> None:
        """Append the buffer and a marker event on ``conn`` inside the caller's
        transaction, then ``commit`` it: the log holds the marker exactly when the
        transaction's data is committed (see engine/recovery.py).

        Uses the caller's connection, not the pool: a transaction about to commit
        must never wait for a pool connection that other runs' transactions hold.
        The marker is never put back: a later flush would record a commit that did
        not happen, and a re-run would then skip work that was rolled back. The
        buffered events are put back when the transaction surely did not commit:
        the INSERT failed, or the server refused the COMMIT (a deferred constraint).
        A run taken over by another process commits nothing (OwnershipLost: the
        caller's release rolls the transaction back).
        """
        async with self._lock:
            self._check_owned()
            read_only, isolation = await conn.fetchrow(TRANSACTION)
            if read_only:
                # Nothing to commit with it (nor could it be written there): a crash
                # before the marker is flushed repeats a group that changed nothing.
                await commit()
                self.add(type_, None, data)
                return
            # The marker is flushed as flowyard, not as the role, schemas or limits
            # the group's members set for their own statements.
            await conn.execute(OWN_SETTINGS)
            rows, reusable, cols = self._take()
            marker = self._event(type_, None, data)
            args = (self.execution_id, self.owner, *_with(cols, marker))
            if isolation == "read committed":
                await self._commit_marked(
                    rows, reusable, commit, conn.execute(INSERT_EVENTS_LOCKED, *args)
                )
                return
            # From its snapshot the run's row cannot be locked once updated since (its
            # own start, a heartbeat): 'could not serialize access'. The fence's lock is
            # held on a connection of the log's meanwhile, until the commit is done.
            async with self.pool.acquire() as fence, fence.transaction():
                owned = fence.fetchval(f"{OWNED} FOR SHARE", self.execution_id, self.owner)
                await self._commit_marked(
                    rows, reusable, commit, _written_if(owned, conn, FENCED_APART, args)
                )

    async def _commit_marked(
        self,
        rows: list[Any],
        reusable: int,
        commit: Callable[[], Awaitable[Any]],
        marking: Awaitable[str],
    ) -> None:
        """Await ``marking`` (the fenced INSERT of the buffer's ``rows`` and the marker,
        its status), then ``commit``; the rows are put back when surely not committed."""
        try:
            self._fenced(await marking)
        except BaseException:
            self._put_back(rows, reusable)
            raise
        try:
            await commit()
        except asyncpg.PostgresError:
            self._put_back(rows, reusable)
            raise

    async def finish(self, status: str, output: Any, error: Any) -> dict[str, Any]:
        """Write the remaining events and the run's final status in one statement.

        The run ends at the time of its final event, `run_<status>`, which the caller
        adds last. Returns the end as stored (``status``, ``started_at``,
        ``finished_at``, ``output``, ``error``), for the result handed to the run's
        caller: no read back, the times are decided here.

        Once the database refused part of the record (a DataError: no retry can
        help), the run would otherwise stay unfinished, resumed and run again on
        every start: the events are written one group at a time instead, those it
        refuses with a note in their place (engine/refusals.py), and the run ends
        `failed` (unless cancelled) with an error naming what was not recorded."""
        out_text = (
            within_limit(self.redact(self._json(output)), None) if output is not None else None
        )
        err_text = self.redact(self._json(error)) if error is not None else None
        async with self._lock:
            rows, reusable, cols = self._take()
            final = rows[-1] if rows and rows[-1][1] == f"run_{status}" else None
            ended_at = final[4] if final else _now()
            started_at = self._started_at  # None: it never began (cancelled while queued)
            end = (status, out_text, err_text, started_at, ended_at)
            if self.refused is None:
                try:
                    await self._write(rows, reusable, self._finish_sql, *cols, *end)
                except REFUSED as exc:
                    self.refused = reason(exc)
                    rows, _, _ = self._take()  # put back by _write
            if self.refused is not None:
                refused = await salvage(
                    [r for r in rows if r is not final], self.refused, self._insert
                )
                if status != "cancelled":
                    status, output, error = "failed", None, refusal_error(refused, self.refused)
                last = self._event(
                    f"run_{status}", None, {"output": None, "error": error}, ended_at
                )
                end = (status, None, self.redact(self._json(error)), started_at, ended_at)
                await self._write([last], 1, self._finish_sql, *_columns([last]), *end)
        times = {"started_at": _iso(started_at), "finished_at": _iso(ended_at)}
        return {"status": status, **times, "output": output, "error": error}

    async def _insert(self, rows: list[Any]) -> None:
        """Append ``rows`` to the log, fenced; nothing put back (engine/refusals.py)."""
        args = (self.execution_id, self.owner, *_columns(rows))
        self._fenced(await self.pool.execute(INSERT_EVENTS, *args))
