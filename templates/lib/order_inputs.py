"""What the order templates accept as input: an Order Processing webhook body, an
``event_version``, Replay Events' ``as_of``. Read in the templates' first step,
before anything is stored or sent, so bad input fails there with words a person
reads (and a template and its Agent variant refuse it alike)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def read_version(raw: Any) -> int:
    """``event_version`` as a sender wrote it: a whole number from 1 (a JSON number,
    or its digits as text). Anything else is refused rather than guessed at."""
    whole = isinstance(raw, int) and not isinstance(raw, bool)
    # ASCII digits only: str.isdigit also takes "１" (full-width, read as 1) and "²"
    # (which int() then refuses with a bare Python error).
    digits = isinstance(raw, str) and raw.isascii() and raw.isdigit()
    # Stored as an integer column: a bigger one failed the insert with an SQL error.
    if not (whole or digits) or not 1 <= int(raw) <= _INT32:
        raise ValueError(
            f"event_version must be a whole number from 1 to {_INT32}, not {raw!r:.40}"
        )
    return int(raw)


_INT32 = 2**31 - 1


MAX_ID_LENGTH = 200

#: JavaScript's Number.MAX_SAFE_INTEGER: past it a number read as a float may not be
#: the one sent (9007199254740993.0 reads as 9007199254740992).
_EXACT_IN_A_FLOAT = 2**53 - 1


def read_order_id(raw: Any, name: str = "order_id") -> str:
    """An ``order_id`` as the order templates store and look it up: text as it is,
    a whole number as its digits. Shops number their orders: ``42``, ``"42"`` and
    ``42.0`` (which JSON Schema calls an integer too, and a sender's float may
    print as) are one order, ``"42"``. ``name`` is the field read (an ``event_id``
    follows the same rule: ``order_intake.event_uuid``).

    Refused, saying what is accepted: a number with a fraction (``42.5``), one
    written with a fraction or exponent past 2**53 - 1 (``1e20``: a float holds
    no more digits, so it may not be the number sent), and any other JSON kind.
    """
    noun = name.replace("_", " ")
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, (float, Decimal)) and not isinstance(raw, bool):
        if not (math.isfinite(raw) and raw == int(raw)):
            raise ValueError(
                f"{name} {raw!r:.40} is not a whole number (an {noun} is text, or a"
                " whole number such as 42)"
            )
        if isinstance(raw, float) and abs(raw) > _EXACT_IN_A_FLOAT:
            raise ValueError(
                f"{name} {raw!r:.40} is past {_EXACT_IN_A_FLOAT} and has a fraction or an"
                f" exponent, so it may not be the number sent (send the {noun} as text, or"
                " as digits alone)"
            )
        return str(int(raw))
    raise ValueError(
        f"{name} is a JSON {_json_kind(raw)} (an {noun} is text, or a whole number such as 42)"
    )


def read_envelope(body: Any) -> tuple[str, str, dict[str, Any]]:
    """``(event_type, order_id, the rest of the body)`` of an Order Processing webhook.

    Checked before anything is stored or sent: an ``order_id`` that was an object
    was stored as the text of a Python dict, an order nobody can name again. A
    whole-number ``order_id`` is its digits (:func:`read_order_id`: ``42``,
    ``42.0`` and ``"42"`` are one order); a fraction is refused.
    """
    problem = None
    order_id = None
    if not isinstance(body, dict):
        problem = "it is null" if body is None else f"it is a JSON {_json_kind(body)}"
    elif not body:
        problem = "it is empty"
    else:
        for key in ("event_type", "order_id"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                if value != value.strip():  # " 42" and "42" would be two orders
                    problem = f"{key} has spaces around it"
                    break
                if len(value) > MAX_ID_LENGTH:  # an index entry has a size limit
                    problem = f"{key} is longer than {MAX_ID_LENGTH} characters"
                    break
                continue
            if key == "order_id" and _json_kind(value) == "number":
                try:
                    order_id = read_order_id(value)
                except ValueError as exc:
                    problem = str(exc)
                    break
                continue
            if key not in body:
                problem = f"{key} is missing"
            elif value is None:
                problem = f"{key} is null"
            elif isinstance(value, str):
                problem = f"{key} is empty"
            else:
                problem = f"{key} is a JSON {_json_kind(value)}"
            break
    if problem:
        raise ValueError(
            "the body must be a JSON object with event_type and order_id (non-empty text)"
            f": {problem}; nothing was stored"
        )
    rest = {k: v for k, v in body.items() if k not in ("event_type", "order_id")}
    return body["event_type"], body["order_id"] if order_id is None else order_id, rest


#: A processor's object id as Stripe writes them (``ch_3MmlLrLkdIwHu7ix0snN0B15``,
#: ``pi_…``): letters, digits and underscores, nothing that means something in a URL.
_CHARGE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


def read_charge_id(data: dict[str, Any]) -> None:
    """Refuse a ``charge_id`` that is not a plain processor id.

    It is put into the capture's URL (``/v1/charges/<charge_id>/capture``), which
    is sent with the shop's secret key: a ``/``, ``?``, ``#`` or ``..`` in it
    would point that authenticated POST at another path of the processor's API
    (a refund, say). Refused rather than percent-encoded: a real charge id
    never holds such characters, so one that does is not a charge to capture.
    """
    if "charge_id" not in data:
        return
    raw = data["charge_id"]
    if not (isinstance(raw, str) and _CHARGE_ID.fullmatch(raw)):
        shown = repr(raw) if len(repr(raw)) <= 80 else repr(raw)[:77] + "..."
        raise ValueError(
            f"charge_id must be a processor id of letters, digits and underscores"
            f" (such as ch_3MmlLrLkdIwHu7ix), not {shown}"
        )


_INT64 = 2**63 - 1


def read_data(data: dict[str, Any], event_type: str | None = None) -> None:
    """Refuse event data the reducer cannot apply as meant, before it is stored.

    A stored event is replayed for ever: ``"items": 5`` or ``"amount": "12,50"``
    made the reducer fail (an order nobody can replay), ``"items": {…}`` turned
    into the object's key names (in an order jsonb does not keep), and a
    ``total_cents`` past BIGINT or with a fraction failed the search index on
    every later event of the order. Money is never negative, and a v1 payment's
    ``amount`` has at most two decimals (``0.125`` was stored as 12 cents, rounded
    half to even), and an ``order_created``'s customer is named in text
    (:func:`read_customer`). ``null`` is taken as absent. ``event_type`` may be left out
    (a workflow copied before it was asked for): the rules of one type are then
    not applied.
    """
    read_charge_id(data)
    if event_type == "payment_received" and data.get("charge_id") is None:
        # Stored, it set the order paid with a charge nobody can ever capture.
        raise ValueError("a payment_received must carry the charge_id of the charge to capture")
    items = data.get("items")
    if items is not None and not isinstance(items, list):
        raise ValueError(f"items must be a JSON array, not a JSON {_json_kind(items)}")
    for key in ("amount_cents", "total_cents"):
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _INT64:
            raise ValueError(f"{key} must be a whole number of cents from 0, not {value!r:.40}")
    # What the upcasters read (v1 payment_received's `amount` in major units, v1
    # order_created's `name`); the same keys in other events are the sender's own.
    amount = data.get("amount") if event_type in (None, "payment_received") else None
    if amount is not None and (
        isinstance(amount, bool)
        or not isinstance(amount, (int, float, Decimal))
        or not math.isfinite(amount)
        or not 0 <= amount <= _INT64 // 100
        or Decimal(str(amount)).as_tuple().exponent < -2
    ):
        raise ValueError(
            f"amount must be a number from 0 with at most two decimals (such as 12.5),"
            f" not {amount!r:.40}"
        )
    if event_type in (None, "order_created"):
        read_customer(data)


#: What an ``order_created`` names its customer by, as text: the reducer keeps the
#: first value of each for good (a later ``order_created`` only fills in what is
#: missing), the confirmation email goes to ``email``, and the search index holds
#: ``email`` and ``last_name`` as text. ``name`` is v1's, upcast to the two names.
_CUSTOMER_TEXT = ("email", "first_name", "last_name", "name")


def read_customer(data: dict[str, Any]) -> None:
    """Refuse an ``order_created``'s customer fields that are not text (``null`` is
    taken as absent); ``user_id`` may also be a whole number (shops number their
    users).

    Stored, ``"email": ["a@x.com", "b@y.com"]`` (or ``5``) got no confirmation and
    no reason, was indexed as the text ``'["a@x.com", …]'``, and made the corrected
    ``order_created`` sent next skip its confirmation: the order already had an
    address. Refused, the sender's correction is the order's first.
    """
    for key in _CUSTOMER_TEXT:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key} must be text, not a JSON {_json_kind(value)}")
    user_id = data.get("user_id")
    if user_id is None or isinstance(user_id, str):
        return
    if _json_kind(user_id) != "number":
        raise ValueError(
            f"user_id must be text or a whole number, not a JSON {_json_kind(user_id)}"
        )
    if not (math.isfinite(user_id) and user_id == int(user_id)):
        raise ValueError(f"user_id must be text or a whole number, not {user_id!r:.40}")


def slack_text(value: Any) -> str:
    """``value`` as text for a Slack message: ``&``, ``<`` and ``>`` escaped, as Slack
    asks, so an order id such as ``<!channel>`` or ``<https://x|refund>`` is shown,
    not turned into a mention or a link."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _json_kind(value: Any) -> str:
    kinds = (("boolean", bool), ("number", (int, float, Decimal)), ("string", str), ("array", list))
    return next((kind for kind, types in kinds if isinstance(value, types)), "object")


# The input_schema's pattern for Replay Events' `as_of`, with its parts named.
_AS_OF = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)"
)


def read_as_of(raw: Any) -> str | None:
    """Replay Events' ``as_of`` as one ISO form (``2030-01-02T10:00:00+00:00``), or None.

    The input_schema's pattern checks the shape only: ``2030-13-45T99:99:99Z``
    matches it. Read here, such a time is refused naming ``as_of`` before any SQL.
    The offset is required, as in the pattern: PostgreSQL would read a time
    without one in the session's time zone.
    """
    if raw is None:
        return None
    match = _AS_OF.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        raise ValueError(
            f"as_of {raw!r} is not a time with Z or an offset, such as 2025-01-02T10:00:00Z"
            " (a time without one would be read in the database's time zone)"
        )
    zone = match["zone"].upper()
    # fromisoformat takes any offset under 24 hours, minutes included: +05:99 would
    # quietly be +06:39.
    if zone != "Z" and (int(zone[1:3]) > 23 or (len(zone) > 3 and int(zone[-2:]) > 59)):
        raise ValueError(
            f"as_of {raw!r} is not a real time: the offset {zone} is not between -23:59 and +23:59"
        )
    try:
        stamp = datetime.fromisoformat(f"{match['date']}T{match['time']}{zone}")
    except ValueError as exc:  # month 13, day 45, hour 99, year 0 …
        raise ValueError(f"as_of {raw!r} is not a real time: {exc}") from None
    # Handed to SQL in UTC: 9999-12-31T23:59:59-23:59 is in year 10000 there and
    # 0001-01-01T00:00:00+23:59 in year 0, which PostgreSQL refused with an error
    # quoting the whole query.
    try:
        return stamp.astimezone(UTC).isoformat()
    except OverflowError:
        raise ValueError(
            f"as_of {raw!r} is not a real time: in UTC it is outside the years 1 to 9999"
        ) from None
