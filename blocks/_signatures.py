"""Webhook signatures: ``X-Flowyard-Signature`` (HMAC-SHA256 of the raw body) and
Standard Webhooks (``webhook-id``/``-timestamp``/``-signature``, ``whsec_`` secrets);
and a shared token a sender puts in a header of its own (``secret_header``: GitLab,
Telegram). Every comparison is constant-time."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Mapping

from engine.references import parse

#: Standard Webhooks: signatures older (or newer) than this are refused as replays.
TOLERANCE_SECONDS = 5 * 60

#: The prefixes of the Standard Webhooks headers (``<prefix>id``, ``timestamp``,
#: ``signature``): the standard's own, and Svix's branded ``svix-``, which Svix sends
#: unless an account has them white-labelled — the same scheme, and Svix's libraries
#: read either. Without it every delivery from a Svix-powered provider was a 401.
STANDARD_PREFIXES = ("webhook-", "svix-")


def message_id(headers: Mapping[str, str]) -> str | None:
    """The Standard Webhooks message id a delivery carries (``webhook-id`` or Svix's
    ``svix-id``), the same on the sender's retries; None: none. Lower-case names."""
    return next((headers[p + "id"] for p in STANDARD_PREFIXES if headers.get(p + "id")), None)


class SignatureError(ValueError):
    """Why a delivery's signature was refused (said in the 401 body)."""


def secret_problem(value: str, token: bool = False) -> str | None:
    """What is wrong with a ``secret`` as written in the file (None: nothing seen yet;
    a variable's value is judged at delivery by `resolve_secret`). Never quotes it.

    ``token``: the secret is a shared token (``secret_header``), compared as text,
    so a ``whsec_`` prefix means nothing."""
    refs = [ref for _, _, ref in parse(value)]
    if any(ref.root != "env" or len(ref.path) != 1 for ref in refs):
        return "the secret may only use <env.NAME> references, e.g. <env.ORDER_WEBHOOK_SECRET>"
    if refs:
        return None
    if _empty(value):
        return "the secret is empty: no signature could be checked (use <env.NAME>)"
    return None if token else whsec_problem(value)


def _empty(secret: str) -> bool:
    """Blank, or ``whsec_`` with nothing after it: no key anyone could not compute."""
    return secret.strip() in ("", "whsec_")


def whsec_problem(secret: str) -> str | None:
    """Why ``secret`` is not a Standard Webhooks ``whsec_<base64>`` secret although it
    says it is one (a truncated or mistyped copy); None for any other secret."""
    if not secret.strip().startswith("whsec_"):
        return None
    if secret != secret.strip():
        # ` whsec_…` (an env file's quoting slip) was taken as a plain HMAC key: every
        # Standard Webhooks delivery a 401, while a trailing blank failed closed.
        return "the whsec_ secret has blanks or a line break around it"
    try:
        base64.b64decode(secret[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError):
        return "the secret starts with whsec_ but the rest is not base64 (whsec_<base64>)"
    return None


def resolve_secret(
    value: str, environ: Mapping[str, str] | None = None, token: bool = False
) -> str:
    """A ``secret`` as configured: literal text, with ``<env.NAME>`` read from the environment.

    Raises LookupError (the delivery is refused: fail closed, 500) when a variable is
    unset, and when the secret comes out blank (``NAME=`` in a compose file): anyone
    can compute an HMAC with an empty key, so it would accept forged deliveries. Also
    when it is not what it claims to be — ``whsec_`` with no base64 after it (unless
    ``token``: a shared token is compared as text) — or uses another reference: the
    server's configuration is wrong, which is its log's business, not a 401 that
    tells the sender (who then stops retrying) why. The message never quotes it."""
    environ = os.environ if environ is None else environ
    out, pos, names = [], 0, []
    for start, end, ref in parse(value):
        if ref.root != "env" or len(ref.path) != 1:
            raise LookupError("the webhook secret may only use <env.NAME> references")
        if ref.path[0] not in environ:
            raise LookupError(f"environment variable {ref.path[0]} (webhook secret) is not set")
        out += [value[pos:start], environ[ref.path[0]]]
        names.append(ref.path[0])
        pos = end
    out.append(value[pos:])
    secret = "".join(out)
    where = f"environment variable {', '.join(names)}" if names else "the configured value"
    if _empty(secret):
        raise LookupError(f"the webhook secret is empty ({where}): no signature can be checked")
    if not token and (why := whsec_problem(secret)):
        raise LookupError(f"the webhook secret is malformed ({where}): {why}")
    return secret


def flowyard_signature(secret: str, body: bytes) -> str:
    """The ``X-Flowyard-Signature`` header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_webhooks_key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError("the webhook secret is not valid whsec_<base64>") from None
    return secret.encode()


def standard_webhooks_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """One ``webhook-signature`` entry (``v1,<base64>``) as a Standard Webhooks sender makes it."""
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(standard_webhooks_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    only: str | None = None,
) -> str | None:
    """Raise :class:`SignatureError` unless the delivery is signed with ``secret``.

    ``headers`` must have lower-case names. Standard Webhooks headers win when present;
    otherwise ``X-Flowyard-Signature`` is required. Comparisons are constant-time.
    Returns the ``webhook-id`` a Standard Webhooks signature covers (the delivery's
    signed identity), None for ``X-Flowyard-Signature``, which signs the body only.

    ``only``: the block's ``signature``, ``flowyard`` or ``standard_webhooks``: that
    scheme alone. With a secret that is not ``whsec_`` both key the HMAC alike, so a
    captured Standard Webhooks MAC over ``<id>.<ts>.<body>`` was, past its 5 minutes
    and forever, a valid ``X-Flowyard-Signature`` for a form body of those bytes.
    """
    prefix = next((p for p in STANDARD_PREFIXES if p + "signature" in headers), None)
    if only == "standard_webhooks" and prefix is None:
        raise SignatureError("missing Standard Webhooks (webhook-signature) header")
    if prefix is not None and only != "flowyard":
        msg_id = headers.get(prefix + "id", "")
        stamp = headers.get(prefix + "timestamp", "")
        if not msg_id or not stamp:
            raise SignatureError(f"{prefix}id and {prefix}timestamp headers are required")
        # ASCII digits only: int() also reads `1764_000_000`, blanks, `+` and other
        # scripts' digits — spellings of a time no sender writes.
        if not (stamp.isascii() and stamp.isdigit()):
            raise SignatureError(f"{prefix}timestamp is not a Unix time (ASCII digits)")
        # int() refuses more than 4300 digits with a ValueError (a 500 to the sender);
        # 20 digits outlast any time this check could accept.
        if len(stamp) > 20:
            raise SignatureError(f"{prefix}timestamp is not a Unix time (more than 20 digits)")
        sent = int(stamp)
        now = time.time() if now is None else now
        if abs(now - sent) > TOLERANCE_SECONDS:
            raise SignatureError(f"{prefix}timestamp is outside the 5-minute tolerance (replayed?)")
        expected = standard_webhooks_signature(secret, msg_id, stamp, body).encode()
        # The header may carry several space-separated signatures (key rotation).
        for candidate in headers[prefix + "signature"].split():
            if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
                return msg_id
        raise SignatureError(f"{prefix}signature does not match")
    given = headers.get("x-flowyard-signature")
    if not given:
        also = "" if only == "flowyard" else " (or Standard Webhooks)"
        raise SignatureError(f"missing X-Flowyard-Signature{also} header")
    if not hmac.compare_digest(
        given.strip().lower().encode(), flowyard_signature(secret, body).encode()
    ):
        raise SignatureError("X-Flowyard-Signature does not match")
    return None


def _as_sent(value: str) -> bytes:
    """A header value as its bytes: WSGI hands them over as latin-1 text, so a
    token sent as UTF-8 is compared with the secret's UTF-8, not its mojibake."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # a Python caller's text (blocks.webhook.accept)
        return value.encode("utf-8", "surrogatepass")


def verify_token(secret: str, header: str, headers: Mapping[str, str]) -> None:
    """Raise :class:`SignatureError` unless header ``header`` carries ``secret``
    itself: a shared token, as GitLab (``X-Gitlab-Token``) and Telegram
    (``X-Telegram-Bot-Api-Secret-Token``) send one. ``headers`` have lower-case
    names; ``-`` and ``_`` are one (``x_gitlab_token``, as references write it).
    Their SHA-256 digests are compared, in constant time: neither the token's text
    nor its length shows in how long a wrong one takes."""
    wanted = header.lower().replace("_", "-")
    given = next((v for k, v in headers.items() if k.replace("_", "-") == wanted), None)
    if given is None:
        raise SignatureError(f"missing {header} header")
    sent = hashlib.sha256(_as_sent(given)).digest()
    if not hmac.compare_digest(sent, hashlib.sha256(secret.encode("utf-8")).digest()):
        raise SignatureError(f"{header} does not match")
