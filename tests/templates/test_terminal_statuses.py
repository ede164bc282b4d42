"""A terminal status is not left by a later event (both variants, and the reducer).

Black-box report: order_created, order_cancelled (fraud), a stray order_delivered,
then payment_received: the status went cancelled → delivered → paid, the charge
was captured and Slack said "ready for fulfillment". Without the stray event the
payment was refused, as the README promises (money follows the order)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import VARIANTS, calls, charge, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer


@pytest.fixture
def oe(lib_path: Path) -> Any:
    import order_events

    return order_events


def ev(etype: str, n: int, **data: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "event_type": etype, "aggregate_id": "o1", "data": data}


@pytest.mark.parametrize(
    "stray",
    [
        {"event_type": "order_delivered", "delivered_at": "2025-01-03"},
        {"event_type": "order_shipped", "carrier": "DHL", "tracking_number": "T-9"},
    ],
)
async def test_a_cancelled_order_stays_cancelled_and_its_payment_is_not_captured(
    variant: tuple[Any, str], httpserver: HTTPServer, stray: dict[str, Any]
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    httpserver.expect_request("/v1/charges/ch_cancel3/capture", method="POST").respond_with_json(
        charge("ch_cancel3")
    )
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0], path=path)
    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "fraud"}
    await deliver(rt, cancel, path=path)
    after = await deliver(rt, {**stray, "order_id": order}, path=path)
    assert after["output"]["status"] == "cancelled"
    paid = await deliver(rt, {**lifecycle(order)[1], "charge_id": "ch_cancel3"}, path=path)
    out = paid["output"]
    assert out["status"] == "cancelled" and out["version"] == 4
    assert out["capture"] == "refused" and out["capture_refused"] == "the order is cancelled"
    assert calls(httpserver, "/v1/charges/ch_cancel3/capture") == []
    texts = [r.get_json()["text"] for r in calls(httpserver, "/slack/hook")]
    [text] = [t for t in texts if order in t]
    assert "NOT captured" in text and "ready for fulfillment" not in text
    state = await rt.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert state["status"] == "cancelled" and state["cancellation_reason"] == "fraud"
    assert "payment" not in state
    assert [a["reason"] for a in state["anomalies"]] == [
        f"{stray['event_type']} while cancelled: not applied",
        "payment_received while cancelled: not applied",
    ]
    replay = await rt.execute(rt.load_workflow(VARIANTS[path]), {"order_id": order})
    assert replay["status"] == "succeeded", replay["error"]
    assert replay["output"]["consistent"] is True


def test_no_event_takes_an_order_out_of_cancelled(oe: Any) -> None:
    cancelled = oe.fold([ev("order_created", 1, email="a@x"), ev("order_cancelled", 2)])
    for n, etype in enumerate(("order_shipped", "order_delivered", "payment_received"), 3):
        after = oe.apply_event(cancelled, ev(etype, n, charge_id="ch_1", carrier="DHL"))
        assert after["status"] == "cancelled"
        assert "shipping" not in after and "payment" not in after
        assert after["anomalies"] == [
            {"event_id": f"e{n}", "reason": f"{etype} while cancelled: not applied"}
        ]
        assert after["last_event_id"] == f"e{n}"  # the stream position moves on
    # Events that leave the status alone still apply (listed as unusual).
    item = oe.apply_event(cancelled, ev("item_added", 6, sku="B"))
    assert item["status"] == "cancelled" and item["items"] == [{"sku": "B"}]
    assert [a["reason"] for a in item["anomalies"]] == ["item_added while cancelled"]


def test_a_delivered_order_can_be_cancelled_but_not_moved_back(oe: Any) -> None:
    delivered = oe.fold(
        [ev("order_created", 1), ev("payment_received", 2, charge_id="ch_1"),
         ev("order_shipped", 3, carrier="DHL"), ev("order_delivered", 4)]
    )  # fmt: skip
    late = oe.apply_event(delivered, ev("order_shipped", 5, carrier="UPS"))
    assert late["status"] == "delivered" and late["shipping"]["carrier"] == "DHL"
    assert late["anomalies"][-1]["reason"] == "order_shipped while delivered: not applied"
    # A return: the docs allow a cancellation after delivery (unusual, applied).
    returned = oe.apply_event(delivered, ev("order_cancelled", 5, reason="returned"))
    assert returned["status"] == "cancelled" and returned["cancellation_reason"] == "returned"
    assert returned["anomalies"][-1]["reason"] == "order_cancelled while delivered"


def test_a_payment_after_delivery_is_recorded_and_the_order_stays_delivered(
    oe: Any, lib_path: Path
) -> None:
    """Paid on delivery (or the payment event arrived late): the charge is owed,
    so it is recorded and captured, and the order does not move back to paid."""
    from order_capture import capture_refusal

    delivered = oe.fold([ev("order_created", 1), ev("order_shipped", 2), ev("order_delivered", 3)])
    paid = oe.apply_event(delivered, ev("payment_received", 4, charge_id="ch_cod"))
    assert paid["status"] == "delivered" and paid["payment"]["charge_id"] == "ch_cod"
    assert capture_refusal(delivered, "payment_received") is None
