"""How much of a result the Database block reads: a chunk at a time through a
cursor, and no more than the most a run record keeps of an output
(engine/_recordable.py, 64 MiB of JSON).

Fetched whole (``PreparedStatement.fetch``), a ``SELECT`` without a ``LIMIT`` over a
big table held every row three times over — asyncpg's records, the rows as dicts
and the run log's JSON of them: 5 M integers took the server to 3 GB, more killed
it and every run in it, and the run record kept none of it all the same (over the
cap, it says ``omitted``). Here each chunk is converted and written as JSON at once
and only that text is kept (a small row as a dict costs ~15 times its JSON), so
reading holds at most the cap in text plus one chunk; the rows are read back from
the text once the whole result is known to fit. Past the cap the block fails, not
retried (the same statement returns the same rows), and the statement is rolled
back with the block: an ``INSERT … RETURNING`` so refused writes nothing.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg

import engine._recordable
from blocks._sql_errors import DatabaseError
from blocks._sql_results import jsonable
from engine._json import dumps, loads

#: Rows asked for by the first fetch: most results are whole in one round trip.
FIRST_CHUNK = 100
#: JSON text one later fetch aims at, from the size of the rows read so far.
CHUNK_CHARS = 1024 * 1024
MAX_CHUNK = 10_000


class ResultTooLarge(DatabaseError):
    """A result bigger than a run record keeps of an output: read no further."""

    retriable = False  # the same statement returns the same rows

    def __init__(self, cap: int, rows: int, sql: str) -> None:
        super().__init__(
            f"the result is over the {cap:,} characters of JSON a run record keeps of an"
            f" output (reading stopped after {rows:,} rows, and the statement was rolled"
            " back): return fewer rows with a LIMIT (page with WHERE key > the last one"
            " read), fewer columns, or aggregate in SQL",
            sql,
        )


async def read_rows(
    conn: Any, stmt: Any, args: list[Any], limit: float | None, sql: str
) -> list[dict[str, Any]]:
    """Every row of ``stmt`` run with ``args``, as JSON-friendly dicts.

    A cursor lives only inside a transaction: a block's own one when it runs alone
    (one statement in a transaction commits as it would have alone), else the
    group's or the retried attempt's. ``limit``: seconds for the whole read (None:
    the connection's ``command_timeout``), not for each fetch."""
    if limit is None:
        limit = getattr(getattr(conn, "_config", None), "command_timeout", None)
    if conn.is_in_transaction():
        return await _read(conn, stmt, args, limit, sql)
    try:
        async with conn.transaction():
            return await _read(conn, stmt, args, limit, sql)
    except asyncpg.InvalidTransactionTerminationError:
        pass
    # A CALL of a procedure that commits (with INOUT values: a result) refuses a
    # transaction block; what it did before its COMMIT was rolled back with ours, so
    # it runs once, as it did before results were read in chunks: one row.
    rows = [jsonable(dict(r.items())) for r in await stmt.fetch(*args, timeout=limit)]
    if len(dumps(rows)) > engine._recordable.MAX_RECORDED_CHARS:
        raise ResultTooLarge(engine._recordable.MAX_RECORDED_CHARS, len(rows), sql)
    return rows


class _Portal:
    """The statement's rows a chunk at a time, inside the transaction it runs in.

    On the unnamed portal, as ``PreparedStatement.fetch`` runs it: bound and executed
    with a row limit in one round trip, the rest asked for on the same portal, which
    lasts until the transaction ends. asyncpg's public Cursor binds, executes and
    closes a named portal in three: ~70 µs more for each one-row SELECT, a cost every
    Database block of every run paid. These are the calls fetch() itself makes; should
    a release of asyncpg rename them, its public Cursor is used instead."""

    def __init__(self, conn: Any, stmt: Any, args: list[Any]) -> None:
        self.conn, self.stmt, self.args = conn, stmt, args
        self.done = False
        self._cursor: Any = None
        self._bound = False

    async def fetch(self, n: int, timeout: float | None) -> list[Any]:
        do = getattr(self.stmt, "_PreparedStatement__do_execute", None)
        state = getattr(self.stmt, "_state", None)
        protocol = getattr(self.conn, "_protocol", None)
        if do is None or state is None or protocol is None or self._cursor is not None:
            return await self._fetch_public(n, timeout)
        if not self._bound:
            self._bound = True
            records, _, self.done = await do(
                lambda p: p.bind_execute(state, self.args, "", n, True, timeout)
            )
        else:
            records, _, self.done = await protocol.execute(state, "", n, True, timeout)
        return list(records)

    async def _fetch_public(self, n: int, timeout: float | None) -> list[Any]:
        if self._cursor is None:
            self._cursor = await self.stmt.cursor(*self.args, timeout=timeout)
        records = await self._cursor.fetch(n, timeout=timeout)
        self.done = len(records) < n
        return list(records)


async def _read(
    conn: Any, stmt: Any, args: list[Any], limit: float | None, sql: str
) -> list[dict[str, Any]]:
    deadline = None if limit is None else time.monotonic() + limit

    def left() -> float | None:
        return None if deadline is None else max(deadline - time.monotonic(), 0.001)

    cap = engine._recordable.MAX_RECORDED_CHARS  # read now: tests lower it
    pieces: list[str] = []  # each chunk's rows as JSON, without the brackets
    size = 0  # the JSON of the rows, with the commas between chunks
    first = 0  # the first row's JSON: the output holds it twice more (`row`, columns)
    count = 0
    want = FIRST_CHUNK
    portal = _Portal(conn, stmt, args)
    while True:
        records = await portal.fetch(want, timeout=left())
        if records:
            text = dumps([jsonable(dict(r.items())) for r in records])[1:-1]
            if not pieces:
                first = len(dumps(jsonable(dict(records[0].items()))))
            size += len(text) + (1 if pieces else 0)
            count += len(records)
            if size + 2 * first > cap:
                raise ResultTooLarge(cap, count, sql)
            pieces.append(text)
        if portal.done:
            break
        want = max(1, min(MAX_CHUNK, CHUNK_CHARS * count // max(size, 1)))
    if not pieces:
        return []
    rows: list[dict[str, Any]] = loads("[" + ",".join(pieces) + "]")
    return rows
