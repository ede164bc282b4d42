"""Whether two decoded JSON values are the same JSON, as jsonb judges them: the
consistency check of Replay Events and of ``append_batch``. Imported through
``order_events`` (``from order_events import json_equal``), where it lived first."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def json_equal(a: Any, b: Any) -> bool:
    """Whether two decoded JSON values are the same JSON (the consistency check).

    Python's ``==`` is not that: ``True == 1`` and ``False == 0`` (bool is an
    int), so a snapshot holding ``true`` where the events give ``1`` would pass
    as consistent. Here true, false and null equal only themselves.

    Numbers are equal when jsonb calls them equal, whatever their Python type
    (``1 == 1.0``): JSON has one number type, and a state round-trips through
    jsonb, which stores every number as ``numeric`` and prints it in its own
    form: a float ``1e25`` the reducer wrote reads back as the integer
    10000000000000000000000000 (and a decoder that keeps numeric's precision gives
    Decimals). So a float is the number its JSON text spells (``repr``: what
    jsonb stores for it), not its exact binary value, which Python's ``==`` uses:
    ``1e25 != 10**25`` and ``float(2**60) == 2**60`` in Python, the other way
    round in jsonb. Ints and Decimals compare exactly, as ``numeric`` does.
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, Mapping):
        return (
            isinstance(b, Mapping)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(json_equal, a, b))
    if isinstance(a, _NUMBERS):
        return isinstance(b, _NUMBERS) and _same_number(a, b)
    return type(a) is type(b) and a == b


_NUMBERS = (int, float, Decimal)


def _same_number(a: int | float | Decimal, b: int | float | Decimal) -> bool:
    if isinstance(a, float) is isinstance(b, float):  # both floats, or both exact
        return a == b
    return _as_stored(a) == _as_stored(b)


def _as_stored(number: int | float | Decimal) -> int | Decimal:
    """The number jsonb stores: a float's shortest text (``repr``, as JSON encoders
    write it), an int or a Decimal exactly."""
    return Decimal(repr(number)) if isinstance(number, float) else number
