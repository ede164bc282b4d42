"""An ``Idempotency-Key`` on ``POST /api/workflows/<name>/runs``: one key, one run.

Ignored, a client that timed out waiting for its ``202`` and sent the request again
with the same key (as a client of Stripe-like APIs does) started a second run: a
second payment capture. The key is read with a webhook delivery's rules
(engine/intake.py), in the namespace of runs by hand (engine/_key_scopes.py): the
same input again is answered with the key's run (``duplicate``); another input is a
``409``; a repeat arriving after that run failed or was cancelled starts a new run
(``retry_of``), and the key moves to it. docs/api.md, "Manual runs".
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from blocks._delivery_keys import indexable
from blocks._webhook_answers import RETRY_AFTER_S
from engine._json import unstorable
from engine.intake import IdempotencyBusy, IdempotencyConflict, same_json
from ui.api import jresponse


class UnstorableKey(ValueError):
    """A key PostgreSQL cannot hold (a NUL, a lone surrogate): the client's error."""


def run_key() -> str | None:
    """The request's ``Idempotency-Key``, as the run store keeps it (a long one as its
    ``sha256:``); None without one, or an empty one. :class:`UnstorableKey` for one the
    run's INSERT would fail on (a 500 otherwise)."""
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if why := unstorable(key, "the Idempotency-Key header"):
        raise UnstorableKey(why)
    return indexable(key) if key else None


def keyed(key: str | None) -> dict[str, Any]:
    """``submit``'s arguments for ``key``: the rules of a repeat (the same input, as
    JSON values) only with a key."""
    return {"idempotency_key": key, "same_request": same_json if key else None}


def refused(exc: Exception) -> Response | None:
    """The answer to a keyed request that started nothing, or None for another error."""
    if isinstance(exc, UnstorableKey):
        return jresponse({"error": str(exc)}, 400)
    if isinstance(exc, IdempotencyConflict):
        return jresponse({"error": str(exc), "execution_id": exc.execution_id}, 409)
    if isinstance(exc, IdempotencyBusy):  # nothing accepted: the client's retry is judged anew
        body = {"error": str(exc), "retry_after": RETRY_AFTER_S}
        return jresponse(body, 503, headers={"Retry-After": str(RETRY_AFTER_S)})
    return None


def repeat_of(sub: Any) -> dict[str, Any]:
    """What the answer says of a repeat: ``duplicate`` (with ``pruned`` when retention
    deleted that run), or ``retry_of`` the failed run a new one retries."""
    if sub.pruned:
        return {"duplicate": True, "pruned": True}
    if not sub.created:
        return {"duplicate": True}
    return {"retry_of": sub.retry_of} if sub.retry_of else {}
