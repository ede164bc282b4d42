"""What a webhook delivery is answered when it is not simply accepted: the database
unavailable or not answering in time (503), a sync run still going (504)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("flowyard.webhook")

#: Seconds a sender is asked to wait (``Retry-After``) when the database is unreachable.
RETRY_AFTER_S = 5


@dataclass(slots=True)
class WebhookResponse:
    status: int
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: A ``respond: sync`` delivery accepted by ``accept(..., wait=False)``: its run,
    #: for the caller to wait for with ``sync_answer`` (body: the run's links).
    waits_for: str | None = None


def unavailable(workflow: str, exc: BaseException | None) -> WebhookResponse:
    """503, nothing accepted. ``exc`` None: the database was not asked (it is known
    not to answer: ui/db_watch.py, which logs that once)."""
    # Logged, not answered: the endpoint is public and the error names the database host.
    if exc is not None:
        log.warning("workflow %r: delivery refused, database unavailable: %r", workflow, exc)
    reason = "the run could not be stored; nothing was accepted, retry later"
    body = {"error": "database unavailable", "reason": reason, "retry_after": RETRY_AFTER_S}
    return WebhookResponse(503, body, {"Retry-After": str(RETRY_AFTER_S)})


def unavailable_waiting(the_run: dict[str, Any], exc: BaseException) -> WebhookResponse:
    """503 to a ``respond: sync`` delivery whose run was accepted but whose end could not
    be read: the database went away while it waited. The run goes on (or resumes);
    a resend with the same idempotency key is answered with it, not a second run."""
    log.warning("run %s: sync delivery not answered, database unavailable: %r",
                the_run.get("execution_id"), exc)  # fmt: skip
    reason = (
        "the run was accepted, but the database went away while the delivery waited for"
        " it: follow status_url, or resend with the same idempotency key"
    )
    body = {"error": "database unavailable", "reason": reason, "retry_after": RETRY_AFTER_S,
            **the_run}  # fmt: skip
    return WebhookResponse(503, body, {"Retry-After": str(RETRY_AFTER_S)})


def not_answered(path: str) -> WebhookResponse:
    """The answer to a delivery whose run the database did not store in time (it
    hangs rather than refusing). As for an unreachable database — but the
    statement was sent, and may still commit once the database resumes: the process
    then runs it (engine/own_runs.py), and a resend with the same idempotency key is
    answered with that run rather than starting another."""
    log.warning("/webhooks/%s: delivery refused, the database did not answer in time", path)
    reason = (
        "the database did not answer in time; the delivery may still be stored and run:"
        " resend it with the same idempotency key, which starts no second run"
    )
    body = {"error": "database unavailable", "reason": reason, "retry_after": RETRY_AFTER_S}
    return WebhookResponse(503, body, {"Retry-After": str(RETRY_AFTER_S)})


def no_thread_to_wait() -> WebhookResponse:
    """503 to a ``respond: sync`` delivery when every server thread waits may hold is
    waiting already: refused before it is stored, so nothing is lost and the sender's
    retry (same key or not) starts the one run."""
    reason = (
        "every server thread a sync delivery may wait in is waiting for a run;"
        " nothing was accepted, retry later"
    )
    body = {"error": "server busy", "reason": reason, "retry_after": RETRY_AFTER_S}
    return WebhookResponse(503, body, {"Retry-After": str(RETRY_AFTER_S)})


def unfinished(the_run: dict[str, Any]) -> WebhookResponse:
    """A ``respond: sync`` delivery whose run did not end in time: it was accepted
    and goes on, so say which, for the caller to follow it rather than resend."""
    reason = "the run was accepted and goes on: follow it at status_url"
    return WebhookResponse(504, {"error": "the run did not finish in time", "reason": reason,
                                 **the_run})  # fmt: skip
