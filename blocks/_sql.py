"""SQL helpers for the Database block: parameter coercion, named params, statements.

References in SQL become bind parameters (``engine.sql_references.rewrite_sql``). A bind
parameter has a type the server infers from its position (``WHERE id = $1`` with a
UUID column makes ``$1`` a uuid), while a reference's value is whatever the upstream
block produced (often a string). :func:`coerce` converts the value to what asyncpg
expects for that type, so ``'<ref>'`` behaves like the literal it replaced; text
only the server can read (an interval, an array literal) is cast there
(:func:`cast_from_text`). Error messages: ``blocks._sql_messages``; result values:
``blocks._sql_results``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.references import to_text
from engine.sql_lexer import IDENT_CONT, code_pieces, tokens

_TEXT = {"text", "varchar", "bpchar", "name", "citext", "char", "xml", "unknown"}
#: Integers to asyncpg, transaction ids too: `events_after('0', 0, 1000)` bound '0'
#: as text to an xid8, which asyncpg takes as an int only.
_INT = {"int2", "int4", "int8", "oid", "xid", "xid8", "cid"}
_FLOAT = {"float4", "float8"}
_TRUE = {"true", "t", "yes", "y", "on", "1"}
_FALSE = {"false", "f", "no", "n", "off", "0"}


class CoercionError(ValueError):
    """A value cannot stand for the parameter's type; names the parameter, not the value."""


class ServerCast(str):
    """Text the server converts to the parameter's type, in PostgreSQL's own input
    syntax: an array literal ``'{1,2}'``, an interval ``'1 mon 2 days'`` (no Python
    value stands for a month), a point ``'(1,2)'``.

    The statement is then run with the parameter as text cast to its type
    (:func:`cast_from_text`).
    """


#: Types whose text form only the server reads (asyncpg wants a timedelta, a tuple,
#: a Range, a BitString…): a string for one is bound as text and cast there, so it
#: means what the literal would. By asyncpg's name, and by kind.
_SERVER_READS = {
    "interval",
    *("point", "line", "lseg", "box", "path", "polygon", "circle"),
    *("bit", "varbit", "tid", "txid_snapshot", "pg_snapshot", "pg_lsn"),
}
_SERVER_READS_KINDS = {"range", "multirange", "composite"}


#: Types with the values 'infinity' and '-infinity' (the block writes them so).
_INFINITE = frozenset({"timestamptz", "timestamp", "date"})
_INFINITY = re.compile(r"\s*[+-]?infinity\s*", re.IGNORECASE)


def coerce(value: Any, type_name: str, kind: str = "scalar") -> Any:
    """Convert ``value`` to what asyncpg's codec for ``type_name`` accepts, or to a
    :class:`ServerCast` when the server must read it from text."""
    if value is None:
        return None
    if type_name.endswith("[]"):  # an array: int4[], text[], … (asyncpg's names)
        return _array(value, type_name[:-2])
    if isinstance(value, str) and (type_name in _SERVER_READS or kind in _SERVER_READS_KINDS):
        return ServerCast(value)
    if isinstance(value, str) and type_name in _INFINITE and _INFINITY.fullmatch(value):
        return ServerCast(value)  # no ISO 8601 time, but the literal it replaced is one
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
            # A time without an offset is one in the session's time zone, as the literal
            # is: only the server knows that zone (Europe/Berlin where it was set up so).
            return ServerCast(stamp.isoformat())
        if type_name == "timestamp" and stamp.tzinfo is not None:
            stamp = stamp.replace(tzinfo=None)  # a timestamp literal ignores its offset
        return stamp
    if type_name == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    if type_name in ("time", "timetz"):
        clock = value if isinstance(value, dt.time) else dt.time.fromisoformat(str(value))
        if type_name == "timetz" and clock.tzinfo is None:
            return ServerCast(clock.isoformat())  # in the session's zone, as above
        return clock
    if type_name == "interval":  # a string was cast by the server, above
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return dt.timedelta(seconds=value)
        return value
    if type_name == "bytea":
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        text = value if isinstance(value, str) else to_text(value)
        # Backslashes are bytea's own syntax ('\x0102' hex, '\\' escapes): the
        # server reads them as the literal would. Other text is its UTF-8 bytes.
        return ServerCast(text) if "\\" in text else text.encode()
    if (
        isinstance(value, (list, tuple, Mapping))
        and kind == "scalar"
        and type_name not in _SERVER_READS
    ):
        # Its JSON text is no inet, enum label, macaddr…: refused here, with the way
        # to match a list's items (unusable()), not by the server quoting it.
        raise TypeError("a container for a scalar")
    if type_name in ("inet", "cidr"):
        return str(value)
    # Enums and other types asyncpg sends in text form (a domain is its base type).
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


def _array(value: Any, element: str) -> Any:
    """A JSON list (or a string holding one) as a list of ``element``; any other
    string as PostgreSQL's own array literal, ``'{1,2}'``, for the server to read."""
    if isinstance(value, str):
        if value.lstrip()[:1] != "[":
            return ServerCast(value)
        try:
            value = json.loads(value)
        except ValueError:
            return ServerCast(value)  # the server says what is wrong with it
    if not isinstance(value, (list, tuple)):
        raise TypeError("not a list")
    items = [_array_element(v, element) for v in value]
    if _any_server_cast(items):
        # Elements only the server reads (interval[]): the array as its literal.
        return ServerCast(_array_literal(value))
    return items


def _array_element(value: Any, element: str) -> Any:
    if isinstance(value, (list, tuple)) and element not in ("json", "jsonb"):
        return [_array_element(v, element) for v in value]  # a multidimensional array
    return coerce(value, element)


def _any_server_cast(items: list[Any]) -> bool:
    return any(
        isinstance(v, ServerCast) or (isinstance(v, list) and _any_server_cast(v)) for v in items
    )


def _array_literal(values: Sequence[Any]) -> str:
    """PostgreSQL's array literal of JSON values: ``{"1 day",NULL,{"a","b"}}``."""

    def item(v: Any) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, (list, tuple)):
            return _array_literal(v)
        return '"' + to_text(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ",".join(item(v) for v in values) + "}"


def unusable(position: int, value: Any, type_name: str, label: str) -> str:
    """Why a value cannot be bound, naming the parameter and the types, never the
    value itself (it may be a secret or personal data)."""
    message = (
        f"parameter ${position} ({label}) is a {type(value).__name__}"
        f" that cannot be used as {type_name}"
    )
    if isinstance(value, (list, tuple)) and not type_name.endswith("[]"):
        message += " (a list is bound as an array where one is expected: `= ANY(<ref>)`)"
    return message


def in_list_item(position: int, value: Any, type_name: str, label: str) -> str:
    """Why a list or a mapping cannot be an item of ``IN (…)``: compared with one
    value, it would be compared as its JSON text and match nothing."""
    message = (
        f"parameter ${position} ({label}) is a {type(value).__name__} in `IN (…)`, which "
        f"compares with one value; it cannot be used as {type_name} there"
    )
    if isinstance(value, (list, tuple)):
        message += f" (to match any of its items, write `= ANY({label})`)"
    return message


def coerce_all(
    values: Sequence[Any],
    types: Sequence[Any],
    labels: Sequence[str],
    in_list: Collection[int] = frozenset(),
) -> list[Any]:
    """Coerce each value for its parameter (asyncpg ``Type``: ``name`` and ``kind``);
    an error names ``$n`` and the reference. ``in_list``: the positions that are
    items of an ``IN (…)`` list (``blocks._sql_in_lists``), where a list or a
    mapping is refused unless the parameter takes one (json, jsonb, an array)."""
    out = []
    for i, (value, type_) in enumerate(zip(values, types, strict=True)):
        if i + 1 in in_list and isinstance(value, (list, tuple, Mapping)):
            if not (type_.name.endswith("[]") or type_.name in ("json", "jsonb")):
                raise CoercionError(in_list_item(i + 1, value, type_.name, labels[i]))
        try:
            out.append(coerce(value, type_.name, type_.kind))
        except (ValueError, TypeError, ArithmeticError):
            raise CoercionError(unusable(i + 1, value, type_.name, labels[i])) from None
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@functools.lru_cache(maxsize=256)
def _cast_from_text(sql: str, casts: tuple[tuple[int, str], ...]) -> str:
    targets = dict(casts)
    pieces, pos = [], 0
    for start, end in code_pieces(sql):
        for m in _POSITIONAL_RE.finditer(sql, start, end):
            target = targets.get(int(m.group(1)))
            if target is not None:
                pieces += [sql[pos : m.start()], f"({m.group(0)}::text::{target})"]
                pos = m.end()
    pieces.append(sql[pos:])
    return "".join(pieces)


_POSITIONAL_RE = re.compile(rf"(?<![{IDENT_CONT}])\$(\d+)")


def cast_from_text(sql: str, casts: Mapping[int, Any]) -> str:
    """``sql`` with each parameter ``$n`` of ``casts`` (position → asyncpg ``Type``)
    bound as text and cast by the server: ``($n::text::"pg_catalog"."int4"[])``.

    Quoted and schema-qualified, the name means exactly the type the server inferred
    (an unquoted ``bit`` would mean ``bit(1)``).
    """
    targets = []
    for position, type_ in sorted(casts.items()):
        name, dims = type_.name, ""
        while name.endswith("[]"):
            name, dims = name[:-2], dims + "[]"
        targets.append((position, f"{_quoted(type_.schema)}.{_quoted(name)}{dims}"))
    return _cast_from_text(sql, tuple(targets))


# -- named params ---------------------------------------------------------------

# In SQL proper (engine.sql_lexer: never inside literals, identifiers, comments or
# dollar-quoted bodies): `::` casts and `:=` first, so `x::jsonb` is not a param
# named jsonb; brackets, so `a[1:n]` is an array slice, not a placeholder.
_NAMED_RE = re.compile(
    r"::|:=|(?P<open>\[)|(?P<close>\])"
    rf"|(?<![{IDENT_CONT}]):(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
)
#: `ARRAY[`: the bracket of a constructor, where a colon is no slice.
_ARRAY_RE = re.compile(rf"(?<![{IDENT_CONT}])array\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def named_placeholders(sql: str) -> tuple[tuple[int, int, str, bool], ...]:
    """Each ``:name`` in SQL proper as (start, end, name, inside a subscript).

    Inside a subscript (``a[1:n]``, ``a[:n]``) a colon is an array slice, and an
    unknown ``:n`` is the column ``n``; anywhere else PostgreSQL has no use for a
    colon before a name.
    """
    found: list[tuple[int, int, str, bool]] = []
    subscripts: list[bool] = []  # for each open bracket: a subscript (not ARRAY[)
    for start, end in code_pieces(sql):
        for m in _NAMED_RE.finditer(sql, start, end):
            if m.group("open"):
                subscripts.append(not _ARRAY_RE.search(sql, max(m.start() - 200, 0), m.start()))
            elif m.group("close"):
                subscripts = subscripts[:-1]
            elif m.group("name"):
                inside = bool(subscripts) and subscripts[-1]
                found.append((m.start(), m.end(), m.group("name"), inside))
    return tuple(found)


def bind_named(sql: str, names: Mapping[str, Any], first: int) -> tuple[str, list[str]]:
    """Replace ``:name`` placeholders (names from ``params``) with ``$first``, ``$first+1``…

    Returns the SQL and the parameter names in position order. Unknown ``:names`` are
    left alone (in a subscript they are array slices, ``a[1:n]``; elsewhere
    validation refused them, see :func:`named_placeholders`).
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
