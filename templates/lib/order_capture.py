"""Whether an order's payment is captured: the rule both Order Processing variants
apply when a payment arrives, and what a repeated delivery of a stored payment
event does about a capture its first run did not complete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from order_rules import NOT_APPLIED_FROM, payment_taken

#: How a refusal for an order whose payment was captured starts (the Slack note
#: advises otherwise than for a cancelled order: the order's own payment stands).
ALREADY_PAID = "the order is already paid"
#: How a refusal for an order holding a payment not known to be captured starts:
#: its capture has no outcome yet (the run that stored it stopped before it), or
#: the caller (a workflow copied by an earlier release) does not say. Not "already
#: paid": nobody is told to fulfil on money that may never be taken.
HOLDS_PAYMENT = "the order already holds a payment"
#: How the refusal of a repeat starts when a later payment took its place (its
#: capture had failed): capturing it now would take the money twice.
REPLACED = "a later payment took its place"

#: ``payment_capture`` when the caller does not know the held payment's capture.
_NOT_SAID = "not said"


def capture_refusal(
    state: Mapping[str, Any] | None, event_type: str, payment_capture: str | None = _NOT_SAID
) -> str | None:
    """Why the charge of a ``payment_received`` applied to ``state`` (the order
    before it) must not be captured, or None. Decided from the stored state, not
    from a model's answer, so both Order Processing variants refuse alike; the
    reducer does not apply such a payment (order_events.not_applied).

    A cancelled order takes no money, and a paid one is not paid twice: the same
    payment sent again under a new id (a new Idempotency-Key) was captured again,
    with a key of its own, and Slack said "ready for fulfillment" twice.

    ``payment_capture`` is the ``event_correlations`` status of the payment the
    order holds (``load_snapshot`` reads it under the order's lock; None: no row).
    Only a captured one (``succeeded``) makes the order "already paid". One whose
    capture ``failed`` (declined, the processor down past the retries) leaves the
    order payable: this payment takes its place (the workflow records that with
    the event, order_rules.REPLACES_PAYMENT, and the reducer applies it). One with
    no outcome yet may still be captured by a resend of its delivery, and one
    ``unconfirmed`` (a 2xx that did not say this charge was captured:
    :func:`unconfirmed_capture`) may have taken the money, so this one is refused,
    without calling the order paid."""
    if event_type != "payment_received":
        return None
    status = (state or {}).get("status")
    if status in NOT_APPLIED_FROM["payment_received"]:
        return f"the order is {status}"
    taken = payment_taken(state)
    if taken is None or payment_capture == "failed":
        return None
    charge = taken.get("charge_id")
    if payment_capture == "succeeded":
        return f"{ALREADY_PAID} (charge {charge})"
    if payment_capture is None:
        return f"{HOLDS_PAYMENT} (charge {charge}) whose capture has no outcome yet"
    if payment_capture == "unconfirmed":
        return f"{HOLDS_PAYMENT} (charge {charge}) whose capture is not confirmed"
    return f"{HOLDS_PAYMENT} (charge {charge})"


def unconfirmed_capture(body: Any, charge_id: Any, amount_cents: Any) -> str | None:
    """Why a 2xx answer to the capture of ``charge_id`` does not confirm it, or None.

    A 2xx is not enough: a proxy, a firewall or a captive page answers 200 with HTML,
    and a wrong ``STRIPE_API_BASE`` may answer anything, which counted every payment
    as captured. The answer must be the charge (a JSON object; its ``object`` and
    ``id``, when given, those of this charge) with ``captured: true`` and, for a
    payment that gives its amount, ``amount_captured`` equal to it: a capture of
    another amount (a partial capture, another authorisation) is not this
    payment's. Such an answer is recorded as ``unconfirmed``, not ``failed``: the
    processor said yes to something, so money may have been taken, and the order
    is not offered to another charge (capture_refusal) until someone checks.

    The words name no value the processor sent but ``amount_captured``'s number:
    its body may echo the request's headers (the secret key)."""
    if not isinstance(body, Mapping):
        kind = "text" if isinstance(body, str) else "a JSON array" if isinstance(body, list) else ""
        return f"the answer is {kind + ', ' if kind else ''}not a JSON charge object"
    if body.get("object") not in (None, "charge"):
        return 'the answer\'s "object" is not "charge"'
    if body.get("id") is not None and body.get("id") != charge_id:
        return "the answer is about another charge"
    if body.get("captured") is not True:
        return "the answer does not say captured: true"
    if amount_cents is None or isinstance(amount_cents, bool):
        return None
    captured = body.get("amount_captured")
    if not isinstance(captured, int) or isinstance(captured, bool):
        return f"the answer gives no amount_captured to check against the payment's {amount_cents}"
    if captured != amount_cents:
        return f"amount_captured is {captured}, not the payment's amount_cents {amount_cents}"
    return None


def repeated_capture(
    event_type: str,
    capture_status: str | None,
    refused_before: str | None,
    order_status: str | None,
    not_applied: bool | None,
    replaced_by: str | None = None,
) -> dict[str, Any]:
    """What a repeated delivery of a STORED event does about its charge, decided
    from durable state only (the run that stored it may have failed before or at
    its capture: the event and snapshot committed, the charge did not).

    ``capture_status`` / ``refused_before`` are the event's ``payment_capture`` row
    in ``event_correlations`` (status, and the refusal's reason), ``order_status``
    the order's snapshot status now, ``not_applied`` whether the snapshot lists
    this payment as not applied (a refusal recorded before refusals had a row),
    ``replaced_by`` the charge of a later payment that took this one's place after
    its capture failed (order_rules.REPLACES_PAYMENT), or None.

    ``action`` is ``"capture"`` (capture now, with the event's own
    Idempotency-Key), ``"refuse"`` (record the refusal, capture nothing) or None
    (nothing to do); ``capture`` is what the run's output says."""
    if event_type != "payment_received":
        return {"action": None, "capture": None, "capture_refused": None}
    if capture_status == "succeeded":
        return {"action": None, "capture": "already captured", "capture_refused": None}
    if capture_status == "refused":
        return {"action": None, "capture": "refused", "capture_refused": refused_before}
    # Not captured yet (no row: the run stopped before its capture; 'failed': the
    # processor said no). A payment the order did not take (cancelled, or already
    # paid, when it arrived), or an order cancelled since, is not captured: money
    # follows the order. (The status alone: the order's payment may be this one.)
    refusal = capture_refusal({"status": order_status}, event_type)
    if refusal is None and replaced_by is not None:
        refusal = f"{REPLACED} (charge {replaced_by}) after its capture failed"
    if refusal is None and not_applied:
        refusal = "the order did not take this payment when it arrived (cancelled or already paid)"
    if refusal is not None:
        return {"action": "refuse", "capture": "refused", "capture_refused": refusal}
    return {"action": "capture", "capture": "due", "capture_refused": None}


def failure_reason(
    http_status: int | None, problem: str | None, error: Mapping[str, Any] | None
) -> str:
    """Why a payment's capture failed, for the run's error: the processor's HTTP
    status; else the setting that kept the capture from being sent (``enrich``'s
    ``capture_problem``); else what the ``capture`` step failed on (its error), so a
    step that failed before sending anything says what (a reference it could not
    read, a URL that is no URL) instead of "no answer from the processor"."""
    if http_status:
        # A 2xx whose answer did not confirm the capture says why (unconfirmed_capture).
        return f"HTTP {http_status}, but {problem}" if problem else f"HTTP {http_status}"
    if problem:
        return str(problem)
    if error and error.get("message"):
        message = str(error["message"])
        if error.get("type") == "HttpError":
            # The HTTP block's own words name the request and what became of it
            # (timed out, the connection refused, an invalid URL).
            return message
        return f"the capture was not sent: {error.get('type') or 'an error'}: {message}"
    return "no answer from the processor"
