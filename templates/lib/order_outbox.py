"""Order Processing's step 10 for the subscribers that keep their messages in
``subscriber_outbox`` until they are taken: the customer system, Slack and the
confirmation email. Both Order Processing variants send them alike.

The messages are written with what they report (the customer's and the email's by
``save_snapshot``, in the order's transaction; Slack's by ``correlate``, with the
capture's outcome), so a crash or a peer that is down loses none. After the
commit, each subscriber is sent what the order holds for it, oldest first, and a
message is deleted once its peer took it; a failure stops that subscriber there,
keeping the rest in order for the order's next event or a resend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from order_capture import ALREADY_PAID, HOLDS_PAYMENT, NO_KNOWN_OUTCOME, REPLACED, capture_declined
from order_inputs import slack_text
from order_rules import TERMINAL

# flowyard's own Email block: the rule that sends the confirmation decides what is queued.
from blocks.email import EmailError, addresses

#: How ``order_capture.capture_refusal`` refuses a payment for a cancelled order
#: (here rather than imported: a workspace whose order_capture.py was edited keeps it
#: when this file is updated, docs/templates.md, and may not have a new name).
_CANCELLED = "the order is cancelled"

#: The subscribers with an outbox, in the order the run lists them (each is sent on
#: its own, side by side; the names are the ``subscriber`` column's values).
SUBSCRIBERS = ("customer", "slack", "email")

#: Those whose message not taken fails the run, so that a resend of that delivery
#: (a failed run's key starts a new run) sends it: a notification or an email the
#: customer never gets is a promise broken to someone who cannot ask for it. A Slack
#: message is the team's own alert: Slack being down does not fail order runs, and
#: what it holds goes with the order's next event or any resend of one of its events.
FAILS_THE_RUN = ("customer", "email")


def confirmation(
    state_before: Mapping[str, Any] | None, event_type: str, data: Mapping[str, Any]
) -> dict[str, str | None]:
    """Whether the event owes the customer a confirmation email: ``{"to": the
    address, or None, "skipped": why an address it names gets none, or None}``.
    ``save_snapshot`` writes the email to the outbox only with a ``to``.

    Decided from the order as stored before the event (not from a model's answer,
    so both variants decide alike). The confirmation goes with the order_created
    that gives the order its address: the same creation sent again under a new id
    (four deliveries sent four emails) finds the address known and sends none. Nor
    does a cancelled or delivered order get one: it says "we will let you know when
    it ships".

    Nor does an address the Email block refuses (``zoë@exämple.com``, ``a@x, b@y``):
    queued, that email failed every later run of the order, for good, since the
    outbox sends an order's messages in order. The event is a fact and is stored;
    ``skipped`` gives the Email block's own words, in the run's output.
    """
    address = data.get("email")
    if event_type != "order_created" or address is None:
        return {"to": None, "skipped": None}
    # `enrich` refuses an address that is not text (order_inputs.read_customer); a
    # workflow whose `enrich` skips that check is still told why no email went.
    if not isinstance(address, str):
        return {"to": None, "skipped": f"the address is {_json_kind(address)}, not text"}
    if not address.strip():  # no address given: nothing was owed
        return {"to": None, "skipped": None}
    state = state_before if isinstance(state_before, Mapping) else {}
    customer = state.get("customer")
    if isinstance(customer, Mapping) and customer.get("email") is not None:
        why = "the order already has an address: its confirmation goes once, with its first"
        return {"to": None, "skipped": f"{why} order_created naming one"}
    status = state.get("status")
    if isinstance(status, str) and status in TERMINAL:
        return {"to": None, "skipped": f"the order is {status}"}
    refused = refused_address(address)
    if refused is not None:
        return {"to": None, "skipped": f"the Email block refuses the address ({refused})"}
    return {"to": address, "skipped": None}


def _json_kind(value: Any) -> str:
    # Here rather than imported: a workspace whose order_inputs.py was edited keeps
    # it when this file is updated (docs/templates.md), and may not have a new name.
    kinds = (("a JSON boolean", bool), ("a JSON number", (int, float)), ("a JSON array", list))
    return next((kind for kind, types in kinds if isinstance(value, types)), "a JSON object")


def refused_address(address: str) -> str | None:
    """The Email block's words when it would refuse ``address`` as the
    confirmation's ``to`` (a reference there, so one address per value), or None.
    Its own check, called rather than copied, so the two cannot drift apart."""
    try:
        addresses("to", address, from_data=True)
    except EmailError as exc:
        return str(exc)
    return None


def held_messages(
    pending: Mapping[str, Any] | None,
    slack_after_capture: Sequence[Any] | None,
    configured: Mapping[str, bool],
    order_status: str | None = None,
) -> dict[str, Any]:
    """What ``send_held`` sends: ``{"subscribers": [{"name", "messages"}]}``, and
    ``"withdrawn"`` when a held message is no longer true of the order.

    ``pending`` is what the order held per subscriber when the run last read it,
    this event's messages included: ``correlate``'s read once a capture's outcome
    is recorded (a re-run from the failed block runs it again, while it carries
    over the others, which may list messages sent since), else ``save_snapshot``'s
    for a new event or ``duplicate``'s for a repeat. ``slack_after_capture``: Slack's
    list alone, as the workflow of an earlier release has ``correlate`` return it,
    which replaces ``pending``'s (None from this release's workflow). A subscriber
    whose setting is unset now is not sent to: what it holds from when it was set
    stays until it is set again.

    ``order_status`` is the order's status as that same read found it (None: not
    said, by a workflow of an earlier release). A message is written with what the
    order was then and may be sent much later (its peer was down), so it is
    checked again here: see :func:`recheck`.
    """
    lists = dict(pending or {})
    if slack_after_capture is not None:
        lists["slack"] = slack_after_capture
    subscribers: list[dict[str, Any]] = []
    withdrawn: list[dict[str, Any]] = []
    for name in SUBSCRIBERS:
        if not (configured.get(name) and lists.get(name)):
            continue
        messages = [recheck(name, dict(m), order_status) for m in lists[name]]
        subscribers.append({"name": name, "messages": messages})
        withdrawn += [
            {"subscriber": name, "event_id": m.get("event_id"), "why": m["withdrawn"]}
            for m in messages
            if m.get("withdrawn")
        ]
    return {"subscribers": subscribers, **({"withdrawn": withdrawn} if withdrawn else {})}


def recheck(name: str, message: dict[str, Any], order_status: str | None) -> dict[str, Any]:
    """``message`` as it is sent to ``name`` now that the order is ``order_status``.

    A confirmation email ("we will let you know when it ships") held while the SMTP
    server was down is ``withdrawn`` once the order is cancelled or delivered, as
    :func:`confirmation` would not have queued it then: it is taken off the outbox
    in its place, unsent (``send_in_order``), so the order's later emails still go
    in order. A Slack note carries the status, and :func:`payment_note` says the
    order is cancelled instead of "ready for fulfillment". The customer system's
    notifications are the order's events, each true when it happened: sent as held.
    """
    if name == "email" and isinstance(order_status, str) and order_status in TERMINAL:
        message["withdrawn"] = f"the order is {order_status}"
    elif name == "slack" and order_status is not None:
        message["order_status"] = order_status
    return message


def subscriber_errors(
    subscribers: Sequence[Mapping[str, Any]] | None,
    publish_results: Mapping[str, Any] | None,
    publish_errors: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """``{subscriber: error}`` for the run's output: the search branch's error as
    ``publish`` collected it, and each outbox subscriber's, which ``send_held``
    collected by position in ``subscribers``."""
    errors = dict(publish_errors or {})
    sent = (publish_results or {}).get("outbox") or {}
    for error in sent.get("errors") or []:
        error = dict(error)
        errors[(subscribers or [])[error.pop("index")]["name"]] = error
    return errors


def held_failure(order_id: str, event_id: str, errors: Mapping[str, Any]) -> str | None:
    """Why the run fails because a message it had to deliver is still held, or None.
    ``outbox`` is the whole outbox branch failing (nothing was sent)."""

    def why(name: str) -> str:
        error = errors[name]
        return str(error.get("message", error) if isinstance(error, Mapping) else error)

    if "customer" in errors or "outbox" in errors:
        name = "customer" if "customer" in errors else "outbox"
        return (
            f"order {order_id}: the customer system did not take the order's notifications "
            f"({why(name)}): event {event_id} is stored and its notification kept in "
            f"subscriber_outbox. It is sent, in order, before the order's next one; resend "
            f"this delivery to send it now"
        )
    if "email" in errors:
        return (
            f"order {order_id}: the confirmation email was not sent ({why('email')}): event "
            f"{event_id} is stored and the email kept in subscriber_outbox. It is sent by the "
            f"order's next event; resend this delivery to send it now"
        )
    return None


def payment_note(message: Mapping[str, Any]) -> str:
    """Slack's text for a payment's capture outcome, from its outbox message (what
    ``correlate`` recorded): "ready for fulfillment" only when the charge was
    captured and the payment is what the order says; a failed or refused capture
    is said as such. A payment whose currency or amount is not the order's
    (``mismatch``: the reducer's anomalies, order_rules.payment_notes) is said to
    be. An order cancelled since the message was written (``order_status``,
    :func:`recheck`) is said to be: a held "ready for fulfillment" was posted to a
    cancelled order. Text from the event is escaped for Slack (an order id
    ``<!channel>`` is shown, not a ping)."""
    text = _outcome_note(message)
    mismatch = message.get("mismatch")
    if not mismatch:
        return text
    said = f"the payment is not what the order says ({slack_text(mismatch)})"
    if message.get("capture") == "succeeded" and message.get("order_status") != "cancelled":
        order = slack_text(message.get("order_id"))
        charge = slack_text(message.get("charge_id"))
        return (
            f":warning: Order {order} is paid (charge {charge}), but {said}: check it"
            " before fulfilling."
        )
    return f"{text} Also, {said}."


def _outcome_note(message: Mapping[str, Any]) -> str:
    order = slack_text(message.get("order_id"))
    charge = slack_text(message.get("charge_id"))
    cancelled = message.get("order_status") == "cancelled"
    if message.get("capture") == "refused":
        refused = str(message.get("refused") or "")
        own = message.get("charge_id")
        if own is not None and _later_charge(refused) == own:
            return _same_charge_note(order, charge, cancelled)
        # "Since" only when the refusal gave another reason: a payment refused
        # because the order was cancelled met it cancelled, as its refusal says.
        advice = (
            "The order is cancelled since: do not fulfil; release this charge."
            if cancelled and not refused.startswith(_CANCELLED)
            else _short_payment_advice(message.get("held_mismatch"), refused)
            or _refusal_advice(refused)
        )
        return (
            f":warning: Order {order}: a payment (charge {charge}) arrived but"
            f" {slack_text(refused)}: it was NOT captured. {advice}"
        )
    if message.get("capture") == "succeeded":
        if cancelled:
            return (
                f":warning: Order {order} was paid (charge {charge}), but it is cancelled"
                " since: do not fulfil; refund the charge."
            )
        return f"Order {order} is paid (charge {charge}): ready for fulfillment."
    status = message.get("http_status")
    problem = message.get("problem")
    if message.get("capture") == "unconfirmed":
        # A 2xx whose answer is not this charge captured (order_capture.unconfirmed_capture).
        why = f"HTTP {status}, but {problem}" if problem else f"HTTP {status}"
        since = " The order is cancelled since: do not fulfil." if cancelled else ""
        return (
            f":warning: Order {order}: the capture of charge {charge} is NOT confirmed"
            f" ({slack_text(why)}): not ready for fulfillment. Check the charge with the"
            f" processor: it may be captured.{since}"
        )
    why = f"HTTP {status}" if status else problem or "no answer from the processor"
    if cancelled:
        return (
            f":warning: Order {order}: capturing charge {charge} FAILED ({slack_text(why)}),"
            " and the order is cancelled since: do not fulfil, and do not resend the payment;"
            " release the charge if the processor holds it."
        )
    if not problem and not capture_declined(status):
        # No answer, a 5xx past the retries, 408/409/429: the processor may have
        # captured it (order_capture.capture_declined); the order takes no other
        # charge until it is known.
        return (
            f":warning: Order {order}: capturing charge {charge} FAILED ({slack_text(why)})"
            " with NO KNOWN OUTCOME: not ready for fulfillment, and no other charge is taken"
            " for the order. The processor may have captured it: check the charge with the"
            " processor. Resending the event's delivery asks again (same Idempotency-Key:"
            " the processor answers with the first outcome)."
        )
    return (
        f":warning: Order {order}: capturing charge {charge} FAILED ({slack_text(why)}): not"
        " ready for fulfillment. Fix the cause, then resend the event's delivery: the capture"
        " is retried, once."
    )


def _short_payment_advice(held_mismatch: Any, refused: str) -> str | None:
    """The advice for a payment refused because the order is paid, when the payment
    the order holds is not what the order says (``held_mismatch``: its anomalies, as
    ``correlate`` reads them): a partial payment, so this charge may be its balance.
    "Fulfil on it, and release this charge" shipped a half-paid order and gave the
    balance back. None: the usual advice (:func:`_refusal_advice`)."""
    if not held_mismatch or not refused.startswith(ALREADY_PAID):
        return None
    return (
        f"But the order's own payment is not what the order says ({slack_text(held_mismatch)}):"
        " this charge may be its balance. Do not fulfil, and do not release this charge,"
        " before checking the order's payments with the customer and the processor."
    )


def _refusal_advice(refused: str) -> str:
    """What the team does about a refused charge. "Fulfil" only when the order's own
    payment was captured (``ALREADY_PAID``): a refusal because the order holds a
    payment whose capture is not known to have succeeded once told staff to ship
    an order whose money was never taken."""
    if refused.startswith(ALREADY_PAID):
        return (
            "The order's own payment stands: fulfil on it, and release this charge if it"
            " is another one."
        )
    if refused.startswith(HOLDS_PAYMENT) and NO_KNOWN_OUTCOME in refused:
        return (
            "Do not fulfil: check the order's own charge with the processor, it may have"
            " been captured. Release this charge if it is another one; send it again under"
            " a new Idempotency-Key only once the processor says that charge was not captured."
        )
    if refused.startswith(HOLDS_PAYMENT):
        return (
            "Fulfil only once the order's own payment is captured (see event_correlations);"
            " release this charge if it is another one, or send it again once the processor"
            " declined that payment's capture."
        )
    if refused.startswith(REPLACED):
        return "Release this charge: the order's payment is the later one."
    if refused.startswith(_CANCELLED):  # never captured: nothing to refund
        return "Do not fulfil; release this charge."
    return "Do not fulfil; release or refund the charge."


def _later_charge(refused: str) -> str | None:
    """The charge of the later payment that took this one's place, from the words
    ``order_capture.repeated_capture`` refused it with (``REPLACED (charge …) after
    its capture failed``), or None for another refusal. Read back from the words,
    which every workflow copy records, rather than from a field of the message,
    which only this release's ``correlate`` could add."""
    head, tail = f"{REPLACED} (charge ", ") after its capture failed"
    if refused.startswith(head) and refused.endswith(tail):
        return refused[len(head) : -len(tail)]
    return None


def _same_charge_note(order: str, charge: str, cancelled: bool) -> str:
    """Slack's text for a repeat of a payment refused because the SAME charge, sent
    again under another Idempotency-Key, took its place: that charge is the order's
    payment, so "release this charge" had staff refund the order's only payment."""
    said = (
        f"Order {order}: a repeat of a payment (charge {charge}) was not captured: the same"
        " charge, sent since under another Idempotency-Key, took that payment's place after"
        " its capture failed."
    )
    if cancelled:
        return (
            f":warning: {said} The order is cancelled since: do not fulfil. That charge is the"
            " order's payment: refund it if its capture (the later payment's, see"
            " event_correlations) went through, else release it."
        )
    return (
        f":information_source: {said} It is the order's payment: do NOT release it. Its"
        " capture is the later payment's (see event_correlations)."
    )
