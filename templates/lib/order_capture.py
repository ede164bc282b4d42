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

#: Said of a held payment whose capture failed without the processor refusing it
#: (no answer, a 5xx past the retries, 408/409/429: :func:`capture_declined`).
NO_KNOWN_OUTCOME = "whose capture has no known outcome"

#: What a repeat reports (``capture``) for a payment it does not capture, the order
#: taking no money now, whose earlier capture may have taken it (repeated_capture).
UNKNOWN_OUTCOME = "unknown"

#: ``payment_capture`` when the caller does not know the held payment's capture.
_NOT_SAID = "not said"

#: The HTTP statuses by which the processor refuses the capture itself: the request
#: was read and said no (400: a card or request error, such as an authorisation
#: expired; 401/403: the key is not accepted; 402: card declined; 404: no such
#: charge), so no money was taken. Any other failure has no known outcome: no
#: answer (a timeout, a dropped connection: the capture may have gone through), a
#: 5xx past the retries, 408, 409 (Stripe: the same Idempotency-Key still being
#: processed), 429 (an earlier attempt of the same capture may have timed out).
#: The workflows' ``load_snapshot`` lists the same statuses (a test checks it).
DECLINED_HTTP_STATUSES = frozenset({400, 401, 402, 403, 404})


def capture_declined(http_status: int | None, answer: str | None = None) -> bool:
    """Whether a failed capture was refused by the processor (no money taken), from
    its ``event_correlations`` row: its ``http_status`` and its answer's words
    (``response->>'error'``, which quotes the processor's body). Only then is the
    order offered to another charge. A 400 that says the charge is already
    captured (Stripe, once the Idempotency-Key's 24 hours are over) means the
    money WAS taken: not a refusal. A row with no ``http_status`` (no answer, or a
    row written before statuses were kept) is judged to have no known outcome."""
    if http_status not in DECLINED_HTTP_STATUSES:
        return False
    words = (answer or "").lower()
    return not ("already" in words and "captured" in words)


def capture_refusal(
    state: Mapping[str, Any] | None,
    event_type: str,
    payment_capture: str | None = _NOT_SAID,
    payment_event_id: Any = None,
    payment_http_status: int | None = None,
) -> str | None:
    """Why the charge of a ``payment_received`` applied to ``state`` (the order
    before it) must not be captured, or None. Decided from the stored state, not
    from a model's answer, so both Order Processing variants refuse alike; the
    reducer does not apply such a payment (order_events.not_applied).

    A cancelled order takes no money, and a paid one is not paid twice: the same
    payment sent again under a new id (a new Idempotency-Key) was captured again,
    with a key of its own, and Slack said "ready for fulfillment" twice.

    ``payment_capture`` is the ``event_correlations`` status of the payment the
    order holds (``load_snapshot`` reads it under the order's lock; None: no row),
    a ``failed`` one judged as ``declined`` or ``unknown`` (:func:`capture_declined`);
    ``payment_event_id`` / ``payment_http_status`` are that payment's event and the
    status its capture was answered with, for the words.
    Only a captured one (``succeeded``) makes the order "already paid". One the
    processor ``declined`` leaves the order payable: this payment takes its place
    (the workflow records that with the event, order_rules.REPLACES_PAYMENT, and
    the reducer applies it). One whose capture failed with no known outcome (a
    timeout, a 5xx: the processor may have captured it), one with no outcome yet
    (a resend of its delivery may still capture it) and one ``unconfirmed`` (a 2xx
    that did not say this charge was captured: :func:`unconfirmed_capture`) may
    all take the money, so this one is refused, without calling the order paid:
    capturing both charged the customer twice. (``failed`` unjudged, as workflow
    files copied from the release that introduced replacements pass it, leaves
    the order payable as it did there: their load_snapshot writes the replacement
    into the event for every failed capture, and the reducer applies it.)"""
    if event_type != "payment_received":
        return None
    status = (state or {}).get("status")
    if status in NOT_APPLIED_FROM["payment_received"]:
        return f"the order is {status}"
    taken = payment_taken(state)
    if taken is None or payment_capture in ("declined", "failed"):
        return None
    charge = taken.get("charge_id")
    if payment_capture == "succeeded":
        return f"{ALREADY_PAID} (charge {charge})"
    if payment_capture == "unknown":
        why = f"HTTP {payment_http_status}" if payment_http_status else "no answer"
        return (
            f"{HOLDS_PAYMENT} (charge {charge}) {NO_KNOWN_OUTCOME} ({why}): the processor"
            f" may have captured it. Resending that payment's delivery asks again"
            f" (Idempotency-Key capture-{payment_event_id}: the processor answers with"
            f" the first outcome)"
        )
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
    http_status: Any = _NOT_SAID,
    answer: str | None = None,
) -> dict[str, Any]:
    """What a repeated delivery of a STORED event does about its charge, decided
    from durable state only (the run that stored it may have failed before or at
    its capture: the event and snapshot committed, the charge did not).

    ``capture_status`` / ``refused_before`` are the event's ``payment_capture`` row
    in ``event_correlations`` (status, and the refusal's reason), ``order_status``
    the order's snapshot status now, ``not_applied`` whether the snapshot lists
    this payment as not applied (a refusal recorded before refusals had a row),
    ``replaced_by`` the charge of a later payment that took this one's place after
    its capture failed (order_rules.REPLACES_PAYMENT), or None. ``http_status`` /
    ``answer`` are the row's status code and error words, which tell a ``failed``
    capture the processor declined from one with no known outcome
    (:func:`capture_declined`); workflow files copied by earlier releases do not
    pass them.

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
    if refusal is not None and (
        capture_status == "unconfirmed"
        or (
            capture_status == "failed"
            and http_status is not _NOT_SAID
            and not capture_declined(http_status, answer)
        )
    ):
        # The capture asked for before may have taken the money (no answer, a 5xx,
        # a 2xx that did not confirm it): nothing is asked now, but a refusal
        # recorded over it said "NOT captured … release this charge" for a charge
        # that may need a refund. The row stays as the processor's answer left it.
        why = "not confirmed" if capture_status == "unconfirmed" else "no known outcome"
        said = f"HTTP {http_status}" if isinstance(http_status, int) else "no answer"
        return {
            "action": None,
            "capture": UNKNOWN_OUTCOME,
            "capture_refused": (
                f"{refusal}, and the capture asked for before has {why} ({said}): the"
                " processor may have captured it. Nothing was asked of the processor now"
                " (the order takes no money): check the charge with the processor, and"
                " refund it if it was captured"
            ),
        }
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
    read, a URL that is no URL) instead of "no answer from the processor". A step
    that timed out had sent its request, or was sending it: not "not sent"."""
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
        if error.get("type") == "TimeoutError":
            # The step's own timeout (the engine's), which fires with the HTTP
            # client's: the request was on its way or sent, so nobody knows.
            when = message.removeprefix("timed out after ")
            return f"the processor did not answer within {when}"
        return f"the capture was not sent: {error.get('type') or 'an error'}: {message}"
    return "no answer from the processor"


def failed_capture_error(
    order_id: Any,
    charge_id: Any,
    event_id: Any,
    http_status: int | None,
    problem: str | None,
    error: Mapping[str, Any] | None,
) -> str:
    """The run's error when capturing ``charge_id`` of payment ``event_id`` failed.

    Refused by the processor (:func:`capture_declined`) or never sent (``problem``:
    a setting), the charge is not captured. Otherwise (no answer, a 5xx past the
    retries, 408/409/429) nobody knows: the processor may have captured it, so the
    words say so and the order takes no other charge (capture_refusal) until a
    resend asks again, with the same Idempotency-Key, which the processor answers
    with the first outcome."""
    why = failure_reason(http_status, problem, error)
    key = f"capture-{event_id}"
    answer = str(error.get("message") or "") if error else ""
    if problem or capture_declined(http_status, answer):
        return (
            f"order {order_id}: capturing charge {charge_id} of payment {event_id} failed"
            f" ({why}; see event_correlations): the event is stored, but the charge is NOT"
            f" captured. Fix the cause, then resend this delivery (or any delivery of event"
            f" {event_id}): the capture is retried, with Idempotency-Key {key}"
        )
    return (
        f"order {order_id}: capturing charge {charge_id} of payment {event_id} has no known"
        f" outcome ({why}; see event_correlations): the processor may have captured it. The"
        f" event is stored, and the order takes no other charge until this one's outcome is"
        f" known: not ready for fulfillment. Check the charge with the processor, or resend"
        f" this delivery (or any delivery of event {event_id}): the capture is asked again,"
        f" with Idempotency-Key {key}, and the processor answers with the first outcome"
    )
