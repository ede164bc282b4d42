"""The Database block's results: database values as JSON, and rows counted."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import asyncpg

from engine.database import interval_iso8601


def jsonable(value: Any) -> Any:
    """A database value as something JSON (and the run log) can hold."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):  # float8 'NaN' and 'Infinity' have no JSON form
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        as_float = float(value)
        # Money must not drift: keep a float only when it reads back as the same number.
        return as_float if value.is_finite() and Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return _infinity(value) or value.isoformat()
    if isinstance(value, dt.timedelta):  # the block's pools read intervals as text already
        return interval_iso8601((0, value.days, value.seconds * 1_000_000 + value.microseconds))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, asyncpg.Range):
        return range_text(value)
    if isinstance(value, asyncpg.BitString):
        return value.as_string()  # its str() is the repr "<BitString 101>"
    if hasattr(value, "items"):  # asyncpg.Record of a composite type
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


#: A range bound PostgreSQL writes in double quotes (range_out): empty, or holding
#: one of these.
_QUOTED_BOUND = re.compile(r'[\s"\\()\[\],]')


def range_text(value: asyncpg.Range) -> str:
    """A range as PostgreSQL writes it and reads it back (``[1,5)``, ``(,3]``,
    ``empty``), each bound converted as a column of its type is. Its str() is a
    Python repr, ``<Range [datetime.datetime(2024, 1, 1, 0, 0, tzinfo=…), …)>``."""
    if value.isempty:
        return "empty"

    def bound(b: Any) -> str:
        if b is None:  # unbounded
            return ""
        text = str(jsonable(b))
        if text and not _QUOTED_BOUND.search(text):
            return text
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'

    opening = "[" if value.lower_inc else "("
    closing = "]" if value.upper_inc else ")"
    return f"{opening}{bound(value.lower)},{bound(value.upper)}{closing}"


def _infinity(value: dt.date | dt.time) -> str | None:
    """``infinity``/``-infinity`` for asyncpg's stand-ins for them: the largest and
    smallest datetime and date, without a time zone even for a timestamptz. (asyncpg
    writes those back as infinity, so a real 9999-12-31 is one already.)"""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value in (dt.datetime.max, dt.datetime.min):
            return "infinity" if value == dt.datetime.max else "-infinity"
    elif isinstance(value, dt.date) and value in (dt.date.max, dt.date.min):
        return "infinity" if value == dt.date.max else "-infinity"
    return None


def duplicated_columns(names: list[str]) -> list[str]:
    """The column names a result holds more than once, in the order they first repeat.

    A row becomes an object keyed by column name, so of two columns named ``id`` (a
    join's ``a.id, b.id``, or two unnamed ``?column?``) only the last would be kept.
    """
    seen: set[str] = set()
    repeated: list[str] = []
    for name in names:
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


def row_count_from_status(status: str | None, fetched: int) -> int:
    """``UPDATE 3`` → 3, ``INSERT 0 1`` → 1; a SELECT counts the rows it returned."""
    if status:
        last = status.rsplit(" ", 1)[-1]
        if last.isdigit() and not status.startswith("SELECT"):
            return int(last)
    return fetched


def output_field_columns(names: list[str], fields: tuple[str, ...]) -> list[str]:
    """The column names a result shares with the block's own output fields, once each.

    The first row's columns go at the top level of the output next to ``rows``,
    ``row_count`` and ``row``; a column named like one of these would be hidden there
    by the field (``SELECT count(*) AS row_count`` read back as the number of rows).
    """
    return [f for f in dict.fromkeys(names) if f in fields]
