"""``a=1&a=2&b=x``, as a form body (``application/x-www-form-urlencoded``) or a query
string arrives: fields as a webhook's run sees them, or a ValueError naming what is
wrong. Nothing is altered on the way: a repeated field is a list of its values, in
order, and text that is not UTF-8 (raw, or percent-encoded: ``%E4``) is refused
rather than turned into U+FFFD."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl


def parse_fields(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` as fields: a value for a field given once, a list for one repeated.

    ``what`` names the input in the error (``the body (a form)``, ``the query string``).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{what} is not UTF-8 text (byte {exc.start})") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{what} has a percent-encoded value that is not UTF-8 ({_escaped(exc)})"
        ) from None
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return {name: values if len(values) > 1 else values[0] for name, values in fields.items()}


def _escaped(exc: UnicodeDecodeError) -> str:
    """The bytes that failed, as they were sent: ``%E4``."""
    return "".join(f"%{b:02X}" for b in exc.object[exc.start : exc.end])
