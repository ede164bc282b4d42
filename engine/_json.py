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
import re
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False)
# 19 digits may already exceed 2**63; shorter runs always fit. (A long run inside
# a string or a float's fraction merely takes the slower, equally correct path.)
_LONG_DIGITS = re.compile(r"\d{19}")
_LONG_DIGITS_B = re.compile(rb"\d{19}")


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
    return orjson.loads(text)
