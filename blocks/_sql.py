"""SQL helpers for the Database block: parameter coercion, named params, result values.

References in SQL become bind parameters (``engine.references.rewrite_sql``). A bind
parameter has a type the server infers from its position (``WHERE id = $1`` with a
UUID column makes ``$1`` a uuid), while a reference's value is whatever the upstream
block produced (often a string). :func:`coerce` converts the value to what asyncpg
expects for that type, so ``'<ref>'`` behaves like the literal it replaced.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import ipaddress
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.references import to_text
from engine.sql_lexer import IDENT_CONT, code_pieces, tokens

_TEXT = {"text", "varchar", "bpchar", "name", "citext", "char", "xml", "unknown"}
_INT = {"int2", "int4", "int8", "oid"}
_FLOAT = {"float4", "float8"}
_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}


class CoercionError(ValueError):
    """A value cannot stand for the parameter's type; names the parameter, not the value."""


def coerce(value: Any, type_name: str) -> Any:
    """Convert ``value`` to what asyncpg's codec for ``type_name`` accepts."""
    if value is None:
        return None
    if type_name.startswith("_"):  # an array type: _int4, _text, …
        if isinstance(value, str):
            return value  # '{1,2}' literal text: let the server parse it
        if isinstance(value, Sequence):
            return [coerce(v, type_name[1:]) for v in value]
    if type_name in _TEXT:
        return value if isinstance(value, str) else to_text(value)
    if type_name in ("json", "jsonb"):
        # The pool's codec JSON-encodes whatever it gets. A string that holds a JSON
        # object or array is what `'<ref>'::jsonb` meant as a literal, so decode it;
        # any other string becomes a JSON string.
        if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
            try:
                return json.loads(value)
            except ValueError:
                pass
        return value
    if type_name in _INT:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return int(str(value).strip())
    if type_name == "numeric":
        if isinstance(value, Decimal):
            return value
        try:
            return Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"not a number: {type(value).__name__}") from None
    if type_name in _FLOAT:
        return float(value)
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError("not a boolean")
    if type_name == "uuid":
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    if type_name in ("timestamptz", "timestamp"):
        stamp = value if isinstance(value, dt.datetime) else _parse_datetime(str(value))
        if type_name == "timestamptz" and stamp.tzinfo is None:
            stamp = stamp.replace(
                tzinfo=dt.UTC
            )  # PostgreSQL's own reading of a bare literal in a UTC session
        if type_name == "timestamp" and stamp.tzinfo is not None:
            stamp = stamp.replace(tzinfo=None)  # a timestamp literal ignores its offset
        return stamp
    if type_name == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if type_name in ("time", "timetz"):
        return value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value))
    if type_name == "interval":
        if isinstance(value, (int, float)):
            return dt.timedelta(seconds=value)
        return value
    if type_name == "bytea":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        return str(value).encode()
    if type_name in ("inet", "cidr"):
        return str(value)
    # Enums, domains over text and other types asyncpg sends in text form.
    return value if isinstance(value, str) else to_text(value)


def _parse_datetime(text: str) -> dt.datetime:
    # RFC 3339 lets the T and Z be lower case (PostgreSQL reads them so);
    # fromisoformat only takes the upper case. An ISO time has no other letters.
    text = text.strip().upper()
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        # PostgreSQL's own output uses a space and a short offset: 2024-01-02 03:04:05+00
        if re.search(r"[+-]\d\d$", text):
            return dt.datetime.fromisoformat(text + ":00")
        raise


def coerce_all(
    values: Sequence[Any], type_names: Sequence[str], labels: Sequence[str]
) -> list[Any]:
    """Coerce each value for its parameter; an error names ``$n`` and the reference."""
    out = []
    for i, (value, type_name) in enumerate(zip(values, type_names, strict=True)):
        try:
            out.append(coerce(value, type_name))
        except (ValueError, TypeError, ArithmeticError):
            # Never the value itself: it may be a secret or personal data.
            raise CoercionError(
                f"parameter ${i + 1} ({labels[i]}) is a {type(value).__name__}"
                f" that cannot be used as {type_name}"
            ) from None
    return out


# -- named params ---------------------------------------------------------------

# In SQL proper (engine.sql_lexer: never inside literals, identifiers, comments or
# dollar-quoted bodies): `::` casts and `:=` first, so `x::jsonb` is not a param
# named jsonb; brackets, so `a[1:n]` is an array slice, not a placeholder.
_NAMED_RE = re.compile(
    r"::|:=|(?P<open>\[)|(?P<close>\])"
    rf"|(?<![{IDENT_CONT}]):(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
)


@functools.lru_cache(maxsize=512)
def named_placeholders(sql: str) -> tuple[tuple[int, int, str, bool], ...]:
    """Each ``:name`` in SQL proper as (start, end, name, inside square brackets)."""
    found, depth = [], 0
    for start, end in code_pieces(sql):
        for m in _NAMED_RE.finditer(sql, start, end):
            if m.group("open"):
                depth += 1
            elif m.group("close"):
                depth = max(depth - 1, 0)
            elif m.group("name"):
                found.append((m.start(), m.end(), m.group("name"), depth > 0))
    return tuple(found)


def bind_named(sql: str, names: Mapping[str, Any], first: int) -> tuple[str, list[str]]:
    """Replace ``:name`` placeholders (names from ``params``) with ``$first``, ``$first+1``…

    Returns the SQL and the parameter names in position order. Unknown ``:names`` are
    left alone (inside brackets they are array slices, ``a[1:n]``; elsewhere
    validation refused them, see :func:`unknown_placeholders`).
    """
    order: list[str] = []
    pieces, pos = [], 0
    for start, end, name, _ in named_placeholders(sql):
        if name not in names:
            continue
        if name not in order:
            order.append(name)
        pieces += [sql[pos:start], f"${first + order.index(name)}"]
        pos = end
    pieces.append(sql[pos:])
    return "".join(pieces), order


# -- statements -----------------------------------------------------------------


def statement_count(sql: str) -> int:
    """Statements in ``sql``: pieces between top-level semicolons that hold more
    than whitespace and comments (a trailing ``;`` adds none)."""
    count, content = 0, False
    for token in tokens(sql):
        if token.kind == "comment":
            continue
        if token.kind != "code":
            content = True
            continue
        for piece in sql[token.start : token.end].split(";")[:-1]:
            count += content or bool(piece.strip())
            content = False
        content = content or bool(sql[token.start : token.end].rsplit(";", 1)[-1].strip())
    return count + content


# -- results --------------------------------------------------------------------


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
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if hasattr(value, "items"):  # asyncpg.Record of a composite type
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def row_count_from_status(status: str | None, fetched: int) -> int:
    """``UPDATE 3`` → 3, ``INSERT 0 1`` → 1; a SELECT counts the rows it returned."""
    if status:
        last = status.rsplit(" ", 1)[-1]
        if last.isdigit() and not status.startswith("SELECT"):
            return int(last)
    return fetched


def scrub(text: str, values: Sequence[Any], quoted: bool = False) -> str:
    """Remove parameter values from a server message (e.g. a unique violation's detail).

    ``quoted``: only where the text quotes one (``"…"``), as the primary message of
    an error does (``invalid input syntax for type integer: "…"``): its prose must
    not lose a word that happens to equal a value.
    """
    for v in values:
        s = v if isinstance(v, str) else None if v is None or isinstance(v, bool) else str(v)
        if s and len(s) >= 3:
            text = text.replace(f'"{s}"', '"…"') if quoted else text.replace(s, "…")
    return text
