"""What identifies a webhook delivery: its idempotency key (a header, or a value a
reference reads from the request) and when a repeat is the same request — the
rules engine/intake.py applies to a repeated key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.intake import same_json
from engine.references import MissingReference, compile_value


class _PayloadScope:
    """Resolves ``idempotency_key`` references against the request being delivered."""

    def __init__(self, block_id: str, payload: dict[str, Any], workflow: str) -> None:
        self.names = {
            block_id: payload,
            "webhook": payload,
            "input": {"webhook": payload, "workflow": {"name": workflow}},
        }

    def lookup(self, root: str) -> Any:
        return self.names[root]

    def note_secret(self, value: Any) -> None:
        pass


def idempotency_key(
    template: str | None,
    block_id: str,
    payload: dict[str, Any],
    lower_headers: Mapping[str, str],
    workflow: str,
    signed_id: str | None = None,
) -> str | None:
    """The delivery's dedup key, or None when the request carries none.

    ``signed_id``: the ``webhook-id`` a verified Standard Webhooks signature covers.
    It is then the key, and an ``Idempotency-Key`` header beside it is ignored: that
    header is not signed, so whoever captured a delivery could resend it within the
    5-minute tolerance under a new key and start it again (a second capture)."""
    value = request_value(template, block_id, payload, workflow)
    if value is not None:
        return value
    if signed_id:
        return signed_id
    return lower_headers.get("idempotency-key") or lower_headers.get("webhook-id") or None


def request_value(
    template: str | None, block_id: str, payload: dict[str, Any], workflow: str
) -> str | None:
    """A key read from the request by a reference (``<webhook.body.order_id>``)."""
    if not template:
        return None
    try:
        value = compile_value(template).resolve(_PayloadScope(block_id, payload, workflow))
    except MissingReference:
        return None
    return None if value in (None, "") else _as_key(value)


def _as_key(value: Any) -> str:
    """A key's text, the same for the same JSON value however it was written: `1` and
    `1.0` are one key, `true` is not the text "True", an object's key order is not
    part of it."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def same_delivery(first: dict[str, Any], again: dict[str, Any]) -> bool:
    """A sender's retry carries the same body and query; its headers (a new
    signature, a timestamp) and the time it arrived may differ."""
    a, b = first.get("webhook") or {}, again.get("webhook") or {}
    return same_json(a.get("body"), b.get("body")) and same_json(a.get("query"), b.get("query"))
