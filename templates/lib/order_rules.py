"""The order's lifecycle rules: which events an order takes as they come, which it
takes as unusual (listed in ``state["anomalies"]``), and which it stores without
applying them. The reducer (``order_events.apply_event``) applies them; the capture
(``order_capture``) and the confirmation email (``order_outbox``) follow the same
rules, so a payment the order did not take is never captured, whatever imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The statuses an order does not leave, each with the event types that may still
#: move it out: an event that would take the order elsewhere is stored and listed
#: as ``… while <status>: not applied``, and not applied. A cancelled order stays
#: cancelled whatever arrives after it (a stray order_delivered once made it
#: delivered, then paid, and its payment was captured). A delivered order can
#: still be cancelled (a return, refunded by the shop), as before; a late
#: order_shipped does not move it back.
TERMINAL: dict[str, frozenset[str]] = {
    "delivered": frozenset({"order_cancelled"}),
    "cancelled": frozenset(),
}


def leaves_terminal(before: Any, after: Any, event_type: str) -> bool:
    """Whether ``event_type`` took the order from the terminal status ``before`` to
    another one, ``after``, which the terminal status does not allow."""
    exits = TERMINAL.get(before) if isinstance(before, str) else None
    return exits is not None and after != before and event_type not in exits


#: Statuses in which an event is recorded as an anomaly and NOT applied: a payment
#: for a cancelled order does not make it paid (nor is the charge captured: see
#: capture_refusal).
NOT_APPLIED_FROM: dict[str, frozenset[str]] = {
    "payment_received": frozenset({"cancelled"}),
}


def payment_taken(state: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The payment the order holds, or None. An order is paid once: another
    payment_received (a resend under a new id, or a second charge) is stored but not
    applied, and its charge not captured (order_capture.capture_refusal), unless
    the held payment's capture failed (:func:`replaced_payment`)."""
    payment = (state or {}).get("payment")
    return payment if isinstance(payment, Mapping) and payment else None


#: The key of a payment_received's ``metadata`` that says the payment the order
#: held when it arrived could not be captured: ``{"event_id", "charge_id",
#: "capture": "failed"}`` (and, from the release that judges failures, the
#: ``http_status`` the processor refused it with). Written by the workflow at the
#: append (``load_snapshot`` reads the held payment's row in ``event_correlations``
#: under the order's lock, and writes it only for a capture the processor refused:
#: order_capture.capture_declined; one with no known outcome may have taken the
#: money), never by the sender. A capture's outcome is not an event, and rows of
#: ``event_correlations`` change (a failed capture that a resend makes succeed),
#: so the reducer cannot read them; the fact is kept with the event it decides,
#: and a replay reads it there. Events stored without it replay as they did.
REPLACES_PAYMENT = "replaces_payment"


def replaced_payment(
    state: Mapping[str, Any] | None, metadata: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The payment held by ``state`` that a payment_received with ``metadata``
    takes the place of, or None: only one whose capture failed, as recorded when
    the event was appended (:data:`REPLACES_PAYMENT`), and only the payment the
    order still holds (the same charge)."""
    held = payment_taken(state)
    marker = (metadata or {}).get(REPLACES_PAYMENT)
    if held is None or not isinstance(marker, Mapping) or marker.get("capture") != "failed":
        return None
    charge = marker.get("charge_id")
    return held if charge is not None and charge == held.get("charge_id") else None


#: The version of these rules an event was appended under: ``metadata["rules"]``,
#: written by ``enrich`` (order_intake). A rule that would change what an event
#: already stored replays to applies only from the version that brought it, so a
#: stored event keeps replaying to the state it gave (Replay Events compares with
#: kept snapshots): the eventsourcing library's ``class_version`` and
#: ``upcast_v1_v2``, for the fold's rules rather than the data's shape. An event
#: without the key (every event stored before it existed) reads as version 1
#: (:func:`rules_version`, the upcast's default). Version 2: an applied payment is
#: checked against the order (:func:`payment_notes`).
RULES_VERSION = 2


def rules_version(metadata: Mapping[str, Any] | None) -> int:
    """The rules version ``metadata`` was stored with; 1 when it says none."""
    raw = (metadata or {}).get("rules") if isinstance(metadata, Mapping) else None
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 1 else 1


def payment_notes(
    state: Mapping[str, Any], data: Any, metadata: Mapping[str, Any] | None
) -> list[str]:
    """What a payment_received applied to ``state`` (the order before it) is listed
    for in ``state["anomalies"]``, the payment being stored and applied all the
    same (a fact): the failed payment it takes the place of
    (:func:`replaced_payment`); from rules version 2, a ``currency`` other than the
    order's (letter case aside: Stripe writes ``usd``) or an ``amount_cents`` other
    than the order's ``total_cents``, when both sides give one. Such a payment was
    captured and announced "ready for fulfillment" without a word."""
    data = data if isinstance(data, Mapping) else {}
    notes = []
    replaced = replaced_payment(state, metadata)
    if replaced is not None:
        charge = replaced.get("charge_id")
        notes.append(f"payment_received replaces charge {charge}, whose capture failed")
    if rules_version(metadata) < 2:
        return notes
    paid, ordered = data.get("currency"), state.get("currency")
    if paid is not None and ordered is not None and _code(paid) != _code(ordered):
        notes.append(f"payment_received currency {paid} is not the order's {ordered}")
    amount, total = data.get("amount_cents"), state.get("total_cents")
    if amount is not None and total is not None and amount != total:
        notes.append(
            f"payment_received amount_cents {amount} is not the order's total_cents {total}"
        )
    return notes


def _code(currency: Any) -> Any:
    return currency.upper() if isinstance(currency, str) else currency


def not_applied(
    state: Mapping[str, Any], event_type: str, metadata: Mapping[str, Any] | None = None
) -> str | None:
    """The anomaly's reason when ``event_type`` (with the event's ``metadata``) is
    stored but not applied to ``state``, judged before its handler runs, or None.
    (Leaving a terminal status is judged on the handler's result:
    :func:`leaves_terminal`.)"""
    status = state.get("status")
    if status in NOT_APPLIED_FROM.get(event_type, ()):
        return f"{event_type} while {status}: not applied"
    if (
        event_type == "payment_received"
        and payment_taken(state) is not None
        and replaced_payment(state, metadata) is None
    ):
        shown = status if status == "paid" else f"{status}, already paid"
        return f"{event_type} while {shown}: not applied"
    return None


#: Statuses from which a transition is normal; anything else is kept as an anomaly.
ALLOWED_FROM: dict[str, frozenset[str]] = {
    "order_created": frozenset({"new"}),
    "item_added": frozenset({"new", "pending"}),
    "payment_received": frozenset({"pending"}),
    "order_shipped": frozenset({"paid"}),
    "tracking_updated": frozenset({"shipped"}),
    "order_delivered": frozenset({"shipped"}),
    "order_cancelled": frozenset({"new", "pending", "paid"}),
}
