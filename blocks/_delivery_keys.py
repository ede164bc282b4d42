"""What identifies a webhook delivery: its idempotency key (a header, or a value a
reference reads from the request) and when a repeat is the same request — the
rules engine/intake.py applies to a repeated key.

Keys are read from the request as it arrived (blocks/_webhook_request.py,
``as_received``), credential headers included — Twilio's idempotency id arrives in
``I-Twilio-Idempotency-Token`` — and a key that reads one is kept only as its hash."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from blocks._earlier_keys import Part, read_key_forms, sent_key_forms
from blocks._signatures import message_id
from blocks._webhook_request import header_key, is_secret_header
from engine._json import unstorable
from engine.intake import hashed, same_json
from engine.references import MissingReference, Reference, parse, resolve

#: Keys longer than this are stored and compared as their SHA-256 (`indexable`):
#: PostgreSQL's unique index on (workflow, key_scope, idempotency_key), and
#: procrastinate's on a job's lock (the concurrency key), refuse rows over ~2.7 KB
#: with an error.
MAX_KEY_CHARS = 255

#: A webhook block's output: the request, as a run (and a key) reads it.
REQUEST_FIELDS = ("body", "headers", "query", "method", "path", "received_at")


def indexable(key: str | None) -> str | None:
    """``key`` as the run store keeps it: as it is up to MAX_KEY_CHARS, else
    ``sha256:<hex>`` of its UTF-8 — the same key always gives the same text, and a
    sender's long id is deduplicated like a short one instead of failing the INSERT."""
    if key is None or len(key) <= MAX_KEY_CHARS:
        return key
    return hashed(key)


def request_path(ref: Reference, block_id: str) -> tuple[str, ...] | None:
    """What a key's reference reads of the webhook block's payload (``("body",
    "order_id")``), by any of its names: ``<ID.…>``, ``<webhook.…>`` or
    ``<input.webhook.…>``. None: not the request (``<workflow.name>``, another block)."""
    if ref.root == "input" and ref.path[:1] == ("webhook",):
        return ref.path[1:]
    if ref.root in (block_id, "webhook"):
        return ref.path
    return None


def key_problems(field: str, key: str, block_id: str) -> list[str]:
    """What is wrong with an ``idempotency_key`` or ``concurrency_key``: both are read
    from the request before any block runs (the run does not exist yet), so they
    may read only this block's own request, as <ID.body.…>, <webhook.…> or
    <input.webhook.…>, and the workflow's name."""
    refs = [ref for _, _, ref in parse(key)]
    out = []
    # Its text is stored with each run: PostgreSQL text holds no NUL (a 500).
    if why := unstorable(key, f"the {field}"):
        out.append(why)
    if not refs:
        why = "must hold a reference into the request, e.g. <webhook.body.order_id>"
        out.append(f"{why} (or order:<webhook.body.order_id>)")
    for ref in refs:
        path = request_path(ref, block_id)
        if _names_the_workflow(ref):
            continue
        if not path or path[0] not in REQUEST_FIELDS:
            out.append(
                f"{ref.text} is not read from the request: the key is taken before any block "
                f"runs, so it can only read this block's own {', '.join(REQUEST_FIELDS)} "
                f"(e.g. <{block_id}.body.order_id>)"
            )
        elif why := misspelt_header(ref, path):
            out.append(why)
    return out


def _names_the_workflow(ref: Reference) -> bool:
    return (ref.root == "input" and ref.path[:2] == ("workflow", "name")) or (
        ref.root == "workflow" and ref.path == ("name",)
    )


def misspelt_header(ref: Reference, path: tuple[str, ...] | None) -> str | None:
    """Why ``ref``, which reads ``path`` of a webhook's request (`request_path`), can
    never find a value: it names a header as a sender writes it (``X-Request-Id``),
    and the request holds each header under its `header_key` (``x_request_id``). It
    validated, then every delivery keyed on it was refused with a 400."""
    if not path or len(path) < 2 or path[0] != "headers" or header_key(path[1]) == path[1]:
        return None
    at = len(ref.path) - len(path) + 1  # the header's name in the reference's own path
    fixed = (*ref.path[:at], header_key(path[1]), *ref.path[at + 1 :])
    meant = f"<{'.'.join((ref.root, *fixed))}{'?' if ref.optional else ''}>"
    return (
        f"{ref.text} never has a value: a request's headers are named in lower case, "
        f"with '_' for '-' ({path[1]} is {header_key(path[1])}): write {meant}"
    )


def reads_credential(ref: Reference, block_id: str, secret_header: str | None = None) -> bool:
    """Whether ``ref`` reads a credential header (or all the headers at once)."""
    path = request_path(ref, block_id)
    if not path or path[0] != "headers":
        return False
    return len(path) == 1 or is_secret_header(path[1], secret_header)


class _PayloadScope:
    """Resolves ``idempotency_key`` references against the request being delivered."""

    def __init__(self, block_id: str, payload: dict[str, Any], workflow: str) -> None:
        self.names = {
            block_id: payload,
            "webhook": payload,
            "input": {"webhook": payload, "workflow": {"name": workflow}},
            "workflow": {"name": workflow},
        }

    def lookup(self, root: str) -> Any:
        return self.names[root]

    def note_secret(self, value: Any) -> None:
        pass


class DeliveryKey(NamedTuple):
    key: str | None  # as this release stores it; None: the request carries none
    earlier: tuple[str, ...]  # the forms earlier releases stored it in (_earlier_keys)


def delivery_key(
    template: str | None,
    block_id: str,
    payload: dict[str, Any],
    lower_headers: Mapping[str, str],
    workflow: str,
    signed_id: str | None = None,
    secret_header: str | None = None,
) -> DeliveryKey:
    """The delivery's dedup key, and the other forms earlier releases stored it in
    (a resend of a delivery they accepted is looked up by those too).

    ``signed_id``: the ``webhook-id`` a verified Standard Webhooks signature covers.
    It is then the key, and an ``Idempotency-Key`` header beside it is ignored: that
    header is not signed, so whoever captured a delivery could resend it within the
    5-minute tolerance under a new key and start it again (a second capture)."""
    read = _read(template, block_id, payload, workflow, secret_header)
    if read is not None:
        parts, secret = read
        text = _key_text(parts)
        if secret:
            return DeliveryKey(hashed(text), ())
        key = indexable(text)
        return DeliveryKey(key, read_key_forms(parts, text, key, MAX_KEY_CHARS))
    # webhook-id, or Svix's svix-id: a Svix retry carries the same one (unsigned here).
    sent = signed_id or lower_headers.get("idempotency-key") or message_id(lower_headers)
    key = indexable(sent) or None
    return DeliveryKey(key, sent_key_forms(sent, key))


def request_value(
    template: str | None,
    block_id: str,
    payload: dict[str, Any],
    workflow: str,
    secret_header: str | None = None,
) -> str | None:
    """A key read from the request by a reference (``<webhook.body.order_id>``), or
    by text around references (``order:<webhook.body.order_id>``: a key of its own
    beside other workflows' keys), as the run store keeps it (`indexable`). None
    when a reference finds no value or an empty one: the request has no such key
    (``order:`` alone would make every such request one key).

    ``payload``: the request as received (``as_received``). A key that reads a
    credential header (the block's ``secret_header`` too) is returned `hashed`,
    whatever its length: the run's row, a job's lock and a 409's message then never
    hold the header's text."""
    read = _read(template, block_id, payload, workflow, secret_header)
    return None if read is None else _stored(*read)


def _read(
    template: str | None,
    block_id: str,
    payload: dict[str, Any],
    workflow: str,
    secret_header: str | None = None,
) -> tuple[list[Part], bool] | None:
    """``template``'s text and the values its references read from the request, and
    whether one read a credential header; None when one found no value."""
    if not template:
        return None
    scope = _PayloadScope(block_id, payload, workflow)
    parts, secret = [], False
    for part in _parts(template):
        if isinstance(part, str):
            parts.append(Part(part, False))
            continue
        try:
            value = resolve(part, scope)
        except MissingReference:
            return None
        if value in (None, ""):
            return None
        parts.append(Part(value, True))
        secret = secret or reads_credential(part, block_id, secret_header)
    return parts, secret


def _key_text(parts: list[Part]) -> str:
    """The key's text: each value read as its key text (`_as_key`)."""
    return "".join(_as_key(p.value) if p.read else p.value for p in parts)


def _stored(parts: list[Part], secret: bool) -> str:
    """The key as the run store keeps it (a credential's, hashed whatever its length)."""
    text = _key_text(parts)
    return hashed(text) if secret else indexable(text)


@functools.lru_cache(maxsize=1024)
def _parts(template: str) -> tuple[str | Reference, ...]:
    """``template`` as its text and references, in order (parsed once per key field)."""
    parts: list[str | Reference] = []
    at = 0
    for start, end, ref in parse(template):
        parts += [template[at:start], ref] if start > at else [ref]
        at = end
    if at < len(template):
        parts.append(template[at:])
    return tuple(parts)


def _as_key(value: Any) -> str:
    """A key's text (or a referenced part of it), the same for the same JSON value
    however it was written: `1` and `1.0` are one key, `true` is not the text
    "True", an object's key order is not part of it."""
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
