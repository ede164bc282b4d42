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
#: "capture": "failed"}``. Written by the workflow at the append (``load_snapshot``
#: reads the held payment's row in ``event_correlations`` under the order's lock),
#: never by the sender. A capture's outcome is not an event, and rows of
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
