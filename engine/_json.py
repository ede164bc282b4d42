"""JSON in and out of the engine: orjson for speed, exact for every integer.

orjson is several times faster than the standard library, and JSON is on every
run's hot path (the run log, jsonb columns, inline Function results). But it only
knows 64-bit integers: it refuses to write a larger one and silently *reads* one
as a float (``2**70 + 1`` comes back as ``1.1805916207174113e+21``). A run must
never change a number it was given — an amount, an id — so text holding a digit
run too long for 64 bits goes through the standard library, which keeps Python's
exact integers.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False)
# 19 digits may already exceed 2**63; shorter runs always fit. (A long run inside
# a string or a float's fraction merely takes the slower, equally correct path.)
# ASCII digits, which are all JSON numbers have: `\d` also tries every Unicode
# digit, and searched a str ~1.6x slower (25 -> 16 us for 2 KB of an order's JSON).
_LONG_DIGITS = re.compile(r"[0-9]{19}")
_LONG_DIGITS_B = re.compile(rb"[0-9]{19}")


def dumps(value: Any) -> str:
    """Compact JSON text; non-JSON values (dates, UUIDs) as their ``str``."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS).decode()
    except TypeError:  # an integer beyond 64 bits
        return _ENCODER.encode(value)


def loads(text: str | bytes) -> Any:
    """Parse JSON text, integers of any size kept exact."""
    pattern = _LONG_DIGITS_B if isinstance(text, bytes) else _LONG_DIGITS
    if pattern.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        if isinstance(text, bytes) or text.isascii():
            raise
        # orjson refuses a str holding a lone surrogate (an inline Function's
        # chr(0xD800), copied through JSON): the standard library reads it, as a worker's
        # "\ud800" is read. The run log records it as U+FFFD (engine/recorder.py).
        return json.loads(text)


def loads_finite(text: str | bytes) -> Any:
    """JSON as peers and Python's own encoder write it: ``NaN`` and ``±Infinity``
    (which strict JSON has not), and numbers too large for a float (``1e999``), read
    as null, as the run log stores them, so a run's result is the same JSON for its
    caller and in its record."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite_or_none)


def _no_constant(name: str) -> None:
    return None


def _finite_or_none(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


# -- what a run may be started with -------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (strict JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text} is too large: it overflows to infinity")
    return value


def _whole_number(text: str) -> int:
    # int() refuses more digits than this in Python's words ("use
    # sys.set_int_max_str_digits()"), which a webhook's sender was answered with.
    digits = len(text.lstrip("-"))
    if digits > sys.get_int_max_str_digits() > 0:
        raise ValueError(f"a number has {digits} digits (at most {sys.get_int_max_str_digits()})")
    return int(text)


def strict_loads(text: str | bytes) -> Any:
    """Parse JSON as RFC 8259 has it, integers of any size kept exact: ValueError for
    ``NaN``, ``Infinity`` and a number that overflows to infinity (``1e999999``).

    The standard library reads those as floats a run would then store as null; orjson
    refuses them but in words that do not name the value, so its refusal sends the
    text to the standard library with hooks that say what is wrong.
    """
    value = _strict_parse(text)
    if _may_nest_deeper(text) and _too_deep(value):
        # A run stores its input as JSON: nested past what the encoders take, the
        # delivery was accepted and its INSERT failed (a 500).
        raise ValueError(f"the JSON is nested too deeply (more than {MAX_DEPTH} levels)")
    return value


#: How deep a run's input may nest: orjson writes 255 levels and the standard
#: library's encoder, its fallback, stops near Python's recursion limit.
MAX_DEPTH = 200


def _strict_parse(text: str | bytes) -> Any:
    pattern = _LONG_DIGITS_B if isinstance(text, bytes) else _LONG_DIGITS
    if not pattern.search(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # parsed again below, for the standard library's verdict and wording
    try:
        return json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_whole_number,
        )
    except RecursionError:  # a caller's input, not our bug: no 500 for "[[[[…"
        raise ValueError(f"the JSON is nested too deeply (more than {MAX_DEPTH} levels)") from None


def _may_nest_deeper(text: str | bytes) -> bool:
    """Cheap: a text with fewer brackets than MAX_DEPTH cannot nest deeper."""
    if isinstance(text, bytes):
        return text.count(b"[") + text.count(b"{") > MAX_DEPTH
    return text.count("[") + text.count("{") > MAX_DEPTH


def _too_deep(value: Any) -> bool:
    stack = [(value, 1)]  # iterative: a deep value must not exhaust the recursion limit
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


#: How text that cannot be stored can be spelled in what it is parsed from: a NUL as
#: itself, a JSON escape or a percent-escape (forms, query strings); a surrogate as a
#: JSON escape (either case). Raw text holding none of them (nor, for ``str``, a
#: surrogate itself: a command line's undecodable bytes) parses into storable text.
_SPELLINGS = ("\x00", "u0000", "%00", "\\ud", "\\uD")
_SPELLINGS_B = tuple(s.encode() for s in _SPELLINGS)
#: A UTF-16 surrogate code point: Python text may hold one, UTF-8 cannot encode it.
SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNRECORDABLE = re.compile(r"[\x00\ud800-\udfff]")


def as_recorded(value: Any) -> Any:
    """``value`` with each NUL and UTF-16 surrogate in its strings and keys replaced by
    U+FFFD, as the run log records it (engine/recorder.py, ``storable``): the result a
    caller receives is then the same whether it was handed over in process or read
    back from the record (another process executed the run), and a surrogate, which
    no encoder could write as UTF-8, is never in it."""
    if isinstance(value, str):
        return _UNRECORDABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {as_recorded(k): as_recorded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_recorded(item) for item in value]
    return value


def _spells_unstorable(raw: str | bytes) -> bool:
    # Substring tests, not one regular expression: several times faster on a large body.
    if isinstance(raw, bytes):
        return any(s in raw for s in _SPELLINGS_B)
    if any(s in raw for s in _SPELLINGS):
        return True
    return not raw.isascii() and SURROGATE.search(raw) is not None


def unstorable(value: Any, what: str, raw: str | bytes | None = None) -> str | None:
    """Why ``value`` cannot be stored, or None. PostgreSQL text and jsonb have no
    U+0000, and a lone UTF-16 surrogate (JSON's ``"\\ud800"``, which Python reads
    as is) is not encodable as UTF-8: either in any string or key failed the run's
    INSERT (a 500, or a traceback in the CLI) instead of saying what is wrong.

    ``raw`` is the text ``value`` was parsed from: when it spells neither, the walk
    is skipped, so an ordinary body costs a few substring searches.
    """
    if raw is not None and not _spells_unstorable(raw):
        return None
    found = _bad_text_at(value, ())
    if found is None:
        return None
    kind, where = found
    return f"{what} contains {kind}{where}, which cannot be stored"


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    lone = SURROGATE.search(text)
    if lone:
        return f"a lone UTF-16 surrogate (\\u{ord(lone.group()):04x})"
    return None


def _bad_text_at(value: Any, path: tuple[str, ...]) -> tuple[str, str] | None:
    """The first unstorable text: what it is, and where (`` at a.b.0``, `` in a key``)."""
    if isinstance(value, str):
        kind = _bad_text(value)
        return None if kind is None else (kind, _at(path))
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            kind = _bad_text(name)
            if kind is not None:
                return kind, f" in a key{_at(path)}"
            found = _bad_text_at(item, (*path, name))
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _bad_text_at(item, (*path, str(index)))
            if found is not None:
                return found
    return None


def _at(path: tuple[str, ...]) -> str:
    return f" at {'.'.join(path)}" if path else ""
