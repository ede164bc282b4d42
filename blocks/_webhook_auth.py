"""How a webhook block authenticates its sender: what its ``secret``, ``secret_header``
and ``signature`` settings may be, and the signing schemes of providers that sign in
a way of their own (``signature: stripe | github | shopify | slack``), checked as each
documents it. The default schemes (``X-Flowyard-Signature``, Standard Webhooks) and
shared tokens are in blocks/_signatures.py.

A provider's scheme is chosen by the block, never by the delivery: Stripe and Slack
sign a timestamp with the body (``<t>.<body>``, ``v0:<t>:<body>``), so had the
headers chosen, a captured delivery's MAC could be sent again, whenever, as an
``X-Flowyard-Signature`` over a body of those bytes (read as a form). With
``signature`` set only that scheme is accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from blocks._signatures import TOLERANCE_SECONDS, SignatureError, secret_problem
from engine.model import Problem

#: The providers whose own scheme ``signature`` names. Their secrets are keys as
#: text: Stripe's ``whsec_…`` is not base64 to decode, as a Standard Webhooks one is.
PROVIDERS = ("stripe", "github", "shopify", "slack")

#: Every value of ``signature``: one of the two default schemes alone (unset: either,
#: blocks/_signatures.py), or a provider's.
SCHEMES = ("flowyard", "standard_webhooks", *PROVIDERS)

#: What a header's name is made of (RFC 9110's token), for `secret_header`.
HEADER_NAME_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~"
)


def auth_problems(config: Mapping[str, Any], block_id: str) -> list[Problem]:
    """What is wrong with a webhook block's ``secret``, ``secret_header`` and
    ``signature`` as written (the secret itself never quoted)."""
    out = []
    secret, header, scheme = (config.get(k) for k in ("secret", "secret_header", "signature"))
    if isinstance(secret, str) and (
        why := secret_problem(secret, token=bool(header) or scheme in PROVIDERS)
    ):
        out.append(Problem(why, block=block_id, field="secret"))
    if isinstance(header, str):
        where = {"block": block_id, "field": "secret_header"}
        if not header or any(c not in HEADER_NAME_CHARS for c in header):
            why = "is not a header name (letters, digits and !#$%&'*+-.^_`|~)"
            out.append(Problem(f"{header!r} {why}, e.g. X-Gitlab-Token", **where))
        elif secret is None:  # a blank one is a `secret` problem
            why = "needs a secret: the token the request must carry in that header"
            out.append(Problem(f"secret_header {why} (e.g. secret: <env.GITLAB_TOKEN>)", **where))
    if scheme is not None:
        where = {"block": block_id, "field": "signature"}
        if secret is None:
            why = "needs a secret: the signing secret the provider gave you"
            out.append(
                Problem(f"signature {why} (e.g. secret: <env.STRIPE_WEBHOOK_SECRET>)", **where)
            )
        elif header is not None:
            why = "a signature is checked, or a token in secret_header, not both"
            out.append(Problem(f"signature and secret_header: {why}", **where))
    return out


def _mac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name.lower(), "").strip()
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def _fresh(stamp: str, name: str, now: float | None) -> None:
    """Refuse a timestamp that is not Unix seconds or is more than 5 minutes away
    (Stripe's and Slack's own tolerance): a captured delivery is not replayed later."""
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 20):
        raise SignatureError(f"{name} is not a Unix time (ASCII digits)")
    now = time.time() if now is None else now
    if abs(now - int(stamp)) > TOLERANCE_SECONDS:
        raise SignatureError(f"{name} is outside the 5-minute tolerance (replayed?)")


def provider_signature(scheme: str, secret: str, body: bytes, timestamp: str = "") -> str:
    """The signature header's value ``scheme``'s sender puts on ``body`` (for tests
    and senders): Stripe's ``t=…,v1=…``, GitHub's ``sha256=<hex>``, Shopify's
    base64, Slack's ``v0=<hex>``."""
    if scheme == "stripe":
        return f"t={timestamp},v1={_mac(secret, timestamp.encode() + b'.' + body).hex()}"
    if scheme == "github":
        return "sha256=" + _mac(secret, body).hex()
    if scheme == "shopify":
        return base64.b64encode(_mac(secret, body)).decode()
    if scheme == "slack":
        return "v0=" + _mac(secret, b"v0:" + timestamp.encode() + b":" + body).hex()
    raise ValueError(f"unknown signature scheme {scheme!r}")


def verify_provider(
    scheme: str, secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> None:
    """Raise :class:`SignatureError` unless ``body`` carries ``scheme``'s valid
    signature, as the provider documents it. ``headers`` have lower-case names."""
    if scheme == "stripe":
        # `t=<ts>,v1=<hex>[,v1=<hex>…][,v0=…]`: one v1 per active secret while one is
        # rolled; any may match. Other schemes (v0: test mode's sha1) are ignored.
        items = [part.partition("=") for part in _header(headers, "Stripe-Signature").split(",")]
        stamps = [v.strip() for k, _, v in items if k.strip() == "t"]
        if len(stamps) != 1:
            raise SignatureError("Stripe-Signature has no timestamp (t=…)")
        _fresh(stamps[0], "the Stripe-Signature timestamp", now)
        expected = provider_signature("stripe", secret, body, stamps[0]).rpartition("v1=")[2]
        if any(_same(v.strip(), expected) for k, _, v in items if k.strip() == "v1"):
            return
        raise SignatureError("Stripe-Signature does not match")
    if scheme in ("github", "shopify"):
        name = "X-Hub-Signature-256" if scheme == "github" else "X-Shopify-Hmac-Sha256"
        if scheme == "shopify" and name.lower() not in headers:
            name = "Shopify-Hmac-Sha256"  # Shopify's Events deliveries drop the X-
        given = _header(headers, name)
        if not _same(given, provider_signature(scheme, secret, body)):
            raise SignatureError(f"{name} does not match")
        return
    if scheme == "slack":
        stamp = _header(headers, "X-Slack-Request-Timestamp")
        _fresh(stamp, "X-Slack-Request-Timestamp", now)
        given = _header(headers, "X-Slack-Signature")
        if not _same(given, provider_signature("slack", secret, body, stamp)):
            raise SignatureError("X-Slack-Signature does not match")
        return
    raise SignatureError(f"unknown signature scheme {scheme!r}")


def provider_delivery_id(scheme: Any, headers: Mapping[str, str], body: Any) -> str | None:
    """The id ``scheme``'s provider gives a delivery, the same on each of its retries
    (its default idempotency key): none of them sends an ``Idempotency-Key``, and
    Shopify retries 8 times, Slack 3, Stripe for days. Stripe's event ``id`` and
    Slack's ``event_id`` are in the signed body; GitHub's and Shopify's are headers."""
    if scheme == "github":
        return headers.get("x-github-delivery") or None
    if scheme == "shopify":
        return headers.get("x-shopify-webhook-id") or headers.get("shopify-webhook-id") or None
    field = {"stripe": "id", "slack": "event_id"}.get(str(scheme))
    value = body.get(field) if field and isinstance(body, dict) else None
    return value if isinstance(value, str) and value else None
