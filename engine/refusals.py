"""When the database refuses part of a run's record.

A run log write can fail for good: PostgreSQL (or asyncpg, encoding the text) refuses
a value whatever the retry — a DataError, unlike a lost connection. Its events were
put back and refused again by every later write, the run stayed `running` (or
`queued`), was resumed on every start, repeating its side effects, and could not be
cancelled. So the recorder stops the run (RunLogRefused), writes what the database
takes, the refused events with a note in place of their data, and ends the run
`failed` naming what was not recorded (engine/recorder.py, ``finish``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from engine._json import dumps

#: What the database refuses whatever the retry (a value's text, its size).
REFUSED = (asyncpg.DataError, asyncpg.ProgramLimitExceededError)


class RunLogRefused(Exception):
    """The database refused part of this run's record: the run stops."""

    retriable = False  # a container's `retries` would meet the same refusal

    def __init__(self, why: str) -> None:
        super().__init__(f"the database refused this run's record ({why})")


def reason(exc: Exception) -> str:
    """The database's (or the encoder's) words for a refusal."""
    cause = exc.__cause__
    if isinstance(cause, UnicodeError):  # asyncpg's own message quotes the data sent
        return str(cause)
    message = getattr(exc, "message", None) or str(exc)  # PostgreSQL's, without its DETAIL
    detail = getattr(exc, "detail", None)
    return f"{message}: {detail}" if detail else message


#: What an omitted record keeps: how the block went, not the values it had.
KEPT = ("attempts", "duration_ms", "port", "attempt")


def omitted(data: dict[str, Any], note: str, keep: tuple[str, ...] = KEPT) -> str:
    """An event's data with its output (and what else a block made) replaced by
    ``note``, marked ``omitted``: a resume or re-run does not reuse a value its record
    does not have — it runs a repeatable block again, and stops before any other
    (``NotResumable``, engine/recovery.py). ``keep``: the fields kept as they are."""
    kept = {k: v for k, v in data.items() if k in keep}
    return dumps({**kept, "output": {"omitted": note}, "omitted": True})


def noted(row: tuple[Any, ...], why: str) -> tuple[Any, ...]:
    """An event row (seq, type, block, data, at) with a note in place of its data."""
    try:
        data = json.loads(row[3])  # the standard library reads what orjson would not
    except ValueError:
        data = {}
    note = f"not recorded: the database refused it ({why})"
    return (*row[:3], omitted(data if isinstance(data, dict) else {}, note), row[4])


async def salvage(
    rows: list[Any], why: str, insert: Callable[[list[Any]], Awaitable[None]]
) -> list[Any]:
    """Write ``rows``, which the database refused together, in order: halved until it
    refuses one alone, which is written :func:`noted`. Returns the refused rows."""
    if not rows:
        return []
    try:
        await insert(rows)
        return []
    except REFUSED:
        if len(rows) == 1:
            await insert([noted(rows[0], why)])
            return rows
    half = len(rows) // 2
    return await salvage(rows[:half], why, insert) + await salvage(rows[half:], why, insert)


def refusal_error(refused: list[Any], why: str) -> dict[str, Any]:
    """The error a run ends with when the database refused part of its record."""
    named = [f"{r[1]} of {r[2]}" if r[2] else r[1] for r in refused]
    what = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
    message = (
        f"the run log could not record {what or 'the run output'}: the database refused it ({why})"
    )
    block = refused[0][2] if refused else None
    return {"type": "RunLogRefused", "message": message, "block": block}
