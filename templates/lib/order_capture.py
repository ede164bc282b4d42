"""Whether an order's payment is captured: the rule both Order Processing variants
apply when a payment arrives, and what a repeated delivery of a stored payment
event does about a capture its first run did not complete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from order_events import NOT_APPLIED_FROM


def capture_refusal(state: Mapping[str, Any] | None, event_type: str) -> str | None:
    """Why the charge of a ``payment_received`` applied to ``state`` (the order
    before it) must not be captured, or None. Decided from the stored state, not
    from a model's answer, so both Order Processing variants refuse alike."""
    if event_type != "payment_received":
        return None
    status = (state or {}).get("status")
    if status in NOT_APPLIED_FROM["payment_received"]:
        return f"the order is {status}"
    return None


def repeated_capture(
    event_type: str,
    capture_status: str | None,
    refused_before: str | None,
    order_status: str | None,
    not_applied: bool | None,
) -> dict[str, Any]:
    """What a repeated delivery of a STORED event does about its charge, decided
    from durable state only (the run that stored it may have failed before or at
    its capture: the event and snapshot committed, the charge did not).

    ``capture_status`` / ``refused_before`` are the event's ``payment_capture`` row
    in ``event_correlations`` (status, and the refusal's reason), ``order_status``
    the order's snapshot status now, ``not_applied`` whether the snapshot lists
    this payment as not applied (a refusal recorded before refusals had a row).

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
    # processor said no). A payment the order did not take, or an order cancelled
    # since, is not captured: money follows the order.
    refusal = capture_refusal({"status": order_status}, event_type)
    if refusal is None and not_applied:
        refusal = "the order was cancelled when the payment arrived"
    if refusal is not None:
        return {"action": "refuse", "capture": "refused", "capture_refused": refusal}
    return {"action": "capture", "capture": "due", "capture_refused": None}
