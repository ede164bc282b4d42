"""What identifies a webhook delivery: its idempotency key (a header, or a value a
reference reads from the request) and when a repeat is the same request — the
rules engine/intake.py applies to a repeated key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from engine.intake import same_json
from engine.references import MissingReference, compile_value

#: Keys longer than this are stored and compared as their SHA-256 (`indexable`):
#: PostgreSQL's unique index on (workflow, idempotency_key), and procrastinate's
#: on a job's lock (the concurrency key), refuse rows over ~2.7 KB with an error.
MAX_KEY_CHARS = 255


def indexable(key: str | None) -> str | None:
    """``key`` as the run store keeps it: as it is up to MAX_KEY_CHARS, else
    ``sha256:<hex>`` of its UTF-8 — the same key always gives the same text, and a
    sender's long id is deduplicated like a short one instead of failing the INSERT."""
    if key is None or len(key) <= MAX_KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


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
        return indexable(signed_id)
    header = lower_headers.get("idempotency-key") or lower_headers.get("webhook-id")
    return indexable(header) or None


def request_value(
    template: str | None, block_id: str, payload: dict[str, Any], workflow: str
) -> str | None:
    """A key read from the request by a reference (``<webhook.body.order_id>``), as
    the run store keeps it (`indexable`)."""
    if not template:
        return None
    try:
        value = compile_value(template).resolve(_PayloadScope(block_id, payload, workflow))
    except MissingReference:
        return None
    return None if value in (None, "") else indexable(_as_key(value))


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
