"""Order Processing's step 2, ``enrich``: the event to store, read from one webhook
delivery, and the template's settings. Both Order Processing variants call
:func:`read_order_event`, so they store and refuse alike; :func:`read_event` is what
workflow files copied by earlier releases call.

Everything here runs before anything is stored or sent: a refusal fails the run
with words a person reads, and the event is not appended.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from order_events import version_error
from order_inputs import read_data, read_envelope, read_order_id, read_version
from order_rules import RULES_VERSION

#: The processor's base URL when ``STRIPE_API_BASE`` is unset.
STRIPE_API_DEFAULT = "https://api.stripe.com"


def read_event(
    webhook: Mapping[str, Any],
    execution_id: str,
    stripe_api_base: str | None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """:func:`read_order_event` with every field a workflow file copied by an earlier
    release reads: ``workflows/lib/`` is shared by every copy of the folder and any
    ``flowyard new`` replaces it with this release's, while the workflow files
    copied before stay as they were (tests/templates/test_earlier_release_copies.py
    runs them on this file).

    ``stripe_api_base``: the processor's base URL, which copies made before the
    capture's URL had a step of its own (``stripe_url``) capture at
    (``<enrich.stripe_api_base>/v1/charges/…``); without it every payment of such a
    copy failed. Set, it is a secret, so this step's record is redacted (and a
    re-run runs the step again): the current templates call
    :func:`read_order_event`, which does not return it.
    """
    event = read_order_event(webhook, execution_id, stripe_api_base, environ)
    event["stripe_api_base"] = stripe_api_url(stripe_api_base)
    return event


def stripe_api_url(stripe_api_base: str | None) -> str:
    """The processor's base URL the capture is sent to: ``STRIPE_API_BASE``, or
    Stripe's own, without a trailing slash (``stripe_url``, and :func:`read_event`)."""
    return (stripe_api_base or STRIPE_API_DEFAULT).rstrip("/")


def read_order_event(
    webhook: Mapping[str, Any],
    execution_id: str,
    stripe_api_base: str | None,
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """The event envelope and settings ``enrich`` returns, or ValueError.

    ``stripe_api_base`` is ``<env.STRIPE_API_BASE?>``, checked here but not
    returned: an output holding a secret is redacted in the run's records, and a
    re-run cannot reuse it (this step would then run again). The capture reads it
    itself (``stripe_url``). The other settings are read from ``environ``.
    """
    # A body that is not an object with text event_type and order_id is refused
    # (an object as order_id was stored as the text of a Python dict). `body` is
    # the rest: the event's data.
    event_type, order_id, body = read_envelope(webhook["body"])
    headers = webhook["headers"]
    sent_id = _sender_event_id(body, headers)
    event_id = _event_id(body, headers, execution_id, order_id)
    # A version newer than the reducer reads would be folded as a guess at its
    # shape (and replayed as an anomaly). Data the reducer cannot apply as meant
    # ("items": 5) is refused too: a stored event is replayed for ever.
    try:
        event_version = read_version(body.pop("event_version", 1))
        read_data(body, event_type)
    except ValueError as exc:
        raise ValueError(f"event {event_id} for order {order_id}: {exc}; not appended") from None
    too_new = version_error(event_type, event_version)
    if too_new:
        raise ValueError(
            f"event {event_id} for order {order_id}: {too_new}; not appended"
            " (deploy the release that reads this version first)"
        )
    return {
        "event_id": event_id,
        "event_type": event_type,
        "event_version": event_version,
        "aggregate_id": order_id,
        "aggregate_type": "order",
        "data": body,
        "metadata": {
            "user_id": body.get("user_id"),
            "ip_address": _address_the_proxy_saw(headers),
            "user_agent": headers.get("user_agent"),
            "timestamp": webhook["received_at"],
            "workflow_execution_id": execution_id,
            # The sender's own id for the event, as read (the stored id is its hash):
            # what the shop reconciles its events with, and which delivery this was,
            # kept after the run log (headers and all) is pruned.
            "sender_event_id": sent_id,
            # The reducer's rules this event is stored under (order_rules.RULES_VERSION):
            # a rule added later does not change what it replays to.
            "rules": RULES_VERSION,
        },
        # Settings, read once per event. SNAPSHOT_EVERY and SMTP_HOST are not
        # secrets, so not read as <env.…> (which would redact "100" wherever it
        # appears in the run's records).
        "snapshot_every": _snapshot_every(environ.get("SNAPSHOT_EVERY")),
        "capture_problem": _capture_problem(environ, stripe_api_base),
        # Which subscribers are set up: one whose setting is unset is owed nothing
        # (no subscriber_outbox row is written) and sent nothing. Only whether a
        # setting is set is read here: the URLs and the sender are secrets.
        "customer_configured": _is_set(environ, "CUSTOMER_WEBHOOK_URL"),
        "slack_configured": _is_set(environ, "SLACK_WEBHOOK_URL"),
        # No SMTP server or no sender, no email.
        "email_configured": _is_set(environ, "ORDER_EMAIL_FROM") and _is_set(environ, "SMTP_HOST"),
        # Read by workflow files copied before email_configured (lib/ is replaced
        # whole by any `flowyard new`, their YAML is not).
        "smtp_configured": _is_set(environ, "SMTP_HOST"),
    }


def _address_the_proxy_saw(headers: Mapping[str, Any]) -> str | None:
    """X-Forwarded-For's right-most entry: the one the proxy in front of flowyard
    appended, the address it saw (docs/deploy.md). The entries before it are the
    client's claim, anything it wrote: the left-most one was stored, so any sender
    chose the address its event was recorded from. None without the header (a
    webhook's output does not carry the TCP peer)."""
    forwarded = str(headers.get("x_forwarded_for") or "")
    return forwarded.rsplit(",", 1)[-1].strip() or None


def _is_set(environ: Mapping[str, str], name: str) -> bool:
    return bool(environ.get(name, "").strip())


def _message_id(headers: Mapping[str, Any]) -> Any:
    """The Standard Webhooks message id: ``webhook-id``, or ``svix-id`` as Svix (and
    the providers it sends for) names it — the same id on every retry of the event."""
    return headers.get("webhook_id") or headers.get("svix_id")


def _sender_event_id(body: Mapping[str, Any], headers: Mapping[str, Any]) -> str | None:
    """The id the sender gave the event, as text, or None: read as :func:`_event_id`
    reads it (the body's ``event_id``, else webhook-id/svix-id, else Idempotency-Key; a whole
    number as its digits). One :func:`event_uuid` refuses is refused there."""
    raw: Any = body.get("event_id")
    if raw is None:
        raw = _message_id(headers) or headers.get("idempotency_key") or None
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        try:
            return read_order_id(raw, "event_id")
        except ValueError:
            return None
    return raw if isinstance(raw, str) else None


def _event_id(
    body: dict[str, Any], headers: Mapping[str, Any], execution_id: str, order_id: str
) -> str:
    """The event's id as a UUID text. It comes from the sender (``event_id`` in
    the body, else the delivery's webhook-id or Idempotency-Key header), so a
    redelivery is the same event; without one it is derived from this run, never
    random, so a resumed run recomputes the same id. webhook-id comes first: it
    is signed (Standard Webhooks), an Idempotency-Key beside it is not, and a
    captured delivery resent with a new one was stored and captured again."""
    raw: Any = body.pop("event_id", None)
    if raw is None:
        raw = _message_id(headers) or headers.get("idempotency_key") or None
    try:
        given = event_uuid(raw)
    except ValueError as exc:
        raise ValueError(f"event for order {order_id}: {exc}; not appended") from None
    return given or str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowyard:run:{execution_id}"))


def event_uuid(raw: Any) -> str | None:
    """A sender's event id as the UUID it is stored under (None for none): a UUID
    as itself, other text or a whole number hashed to a UUIDv5, so one event
    sent by webhook and imported in a batch has one id. ``0`` is an id like
    ``7``; ``false``, ``""`` or ``1.5`` are none and refused (read as "no id",
    every redelivery of such an event was appended and captured again).

    The rule of ``order_id`` (``order_inputs.read_order_id``): a whole number is
    its digits, so ``7``, ``7.0`` and ``"7"`` are one event (``7.0`` was refused
    while an order_id ``42.0`` was taken), and text is taken as sent, so text with
    blanks around it is refused (``" 8 "`` was stored as another event than
    ``"8"``, while an order_id with spaces around it was refused)."""
    if raw is None:
        return None
    shown = repr(raw) if len(repr(raw)) <= 40 else repr(raw)[:37] + "..."
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        raw = read_order_id(raw, "event_id")
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"event_id must be text or a whole number, not {shown}")
    if raw != raw.strip():
        raise ValueError(
            f"event_id {shown} has spaces around it (an id is taken as sent, so it would"
            " be another event than the id without them)"
        )
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowyard:order-event:{raw}"))


def not_at_head(
    order_id: str,
    event_type: str,
    event_id: str,
    snapshot_version: int | None,
    head_version: int | None,
    newest_versions: Mapping[str, Any] | None,
) -> str:
    """The run's error when the event was not appended because the order's snapshot
    is not at its last stored event, with a way out that works for this order.

    ``newest_versions`` is the newest ``event_version`` stored per event type of the
    order. The way out is a rebuild of the snapshot (Replay Events, ``repair: true``),
    which refuses an order holding an event this release cannot read
    (``repair_refused``): for such an order the lib that reads it comes first, or
    the advice sends people round in a circle.
    """
    where = "missing" if snapshot_version is None else f"at version {snapshot_version}"
    said = (
        f"order {order_id}: {event_type} {event_id} was not appended: the order's snapshot is"
        f" {where} but its last stored event is at version {head_version or 0}."
    )
    unread = sorted(
        why
        for etype, version in (newest_versions or {}).items()
        if (why := version_error(str(etype), int(version)))
    )
    if unread:
        return (
            f"{said} The order holds an event this release cannot read ({'; '.join(unread)}),"
            " so Replay Events cannot rebuild its snapshot yet (repair: true answers"
            " repair_refused). Update the template's lib/ to a release that reads it, then"
            " rebuild the snapshot with Replay Events (repair: true), then resend"
        )
    return (
        f"{said} Restore any missing events, or rebuild the snapshot from the events with"
        " Replay Events (repair: true), then resend"
    )


def _snapshot_every(raw: str | None) -> int:
    text = (raw or "").strip()
    if not text:
        return 100
    if not (text.isascii() and text.isdigit() and int(text) >= 1):
        raise ValueError(
            f"the setting SNAPSHOT_EVERY must be a whole number from 1 (keep every N-th"
            f" version of an order), not {raw!r}; nothing was stored"
        )
    return int(text)


_HTTP_URL = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)


def _capture_problem(environ: Mapping[str, str], stripe_api_base: str | None) -> str | None:
    """``enrich``'s ``capture_problem``: read by workflow files copied before
    ``stripe_url`` asked :func:`capture_problem` itself."""
    return capture_problem(environ.get("STRIPE_SECRET_KEY"), stripe_api_base)


def capture_problem(secret_key: str | None, stripe_api_base: str | None) -> str | None:
    """Why a payment cannot be captured with these settings, or None. Named by
    setting, never by value: both are secrets. ``stripe_url`` asks it where the
    capture is sent, from ``<env.…>`` as they are then: a re-run from the failed
    block runs that failed step again, so a setting fixed since is used."""
    if not (secret_key or "").strip():
        return "the setting STRIPE_SECRET_KEY is not set, so no capture was sent"
    if stripe_api_base and not _HTTP_URL.fullmatch(stripe_api_base.strip()):
        return (
            "the setting STRIPE_API_BASE is not an http:// or https:// URL, so no capture was sent"
        )
    return None
