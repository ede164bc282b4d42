"""An order is paid once and confirmed once (both variants).

Black-box report: payment_received {charge_id ch_dup, amount_cents 1999} under
Idempotency-Key dp-1, then the same body under dp-2: two events (fine: without an
id each delivery is new), but two capture POSTs for ch_dup with two keys, two
"ready for fulfillment" in Slack and two succeeded correlation rows, though the
reducer had listed "payment_received while paid". Likewise order_created sent four
times sent four confirmation emails."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import VARIANTS, Mailbox, calls, charge, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer


def order_id() -> str:
    return f"ord-dup-{uuid.uuid4().hex[:8]}"


async def test_the_same_payment_sent_again_under_a_new_key_is_not_captured_again(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    httpserver.expect_request("/v1/charges/ch_dup/capture", method="POST").respond_with_json(
        charge("ch_dup", 1999)
    )
    order = order_id()
    payment = {"event_type": "payment_received", "order_id": order, "charge_id": "ch_dup",
               "amount_cents": 1999}  # fmt: skip
    first = await deliver(rt, payment, {"Idempotency-Key": f"dp-1-{order}"}, path=path)
    second = await deliver(rt, payment, {"Idempotency-Key": f"dp-2-{order}"}, path=path)
    assert first["output"]["capture"] == "succeeded"
    out = second["output"]
    assert out["duplicate"] is False and out["version"] == 2  # a new event, stored
    assert out["status"] == "paid"
    assert out["capture"] == "refused"
    assert out["capture_refused"] == "the order is already paid (charge ch_dup)"
    captures = calls(httpserver, "/v1/charges/ch_dup/capture")
    assert [r.headers["Idempotency-Key"] for r in captures] == [
        f"capture-{first['output']['event_id']}"
    ]
    rows = await rt.db.pool.fetch(
        "SELECT c.status FROM event_correlations c JOIN events e USING (event_id)"
        " WHERE e.aggregate_id = $1 ORDER BY e.aggregate_version",
        order,
    )
    assert [r["status"] for r in rows] == ["succeeded", "refused"]
    texts = [r.get_json()["text"] for r in calls(httpserver, "/slack/hook")]
    ready, warning = [t for t in texts if order in t]
    assert ready.endswith("ready for fulfillment.")
    assert "already paid (charge ch_dup): it was NOT captured" in warning
    assert "ready for fulfillment" not in warning and "refund" not in warning
    state = await rt.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert state["anomalies"][-1] == {
        "event_id": out["event_id"],
        "reason": "payment_received while paid: not applied",
    }
    assert state["payment"]["charge_id"] == "ch_dup"
    # A resend of the refused payment (its event_id in the body) captures nothing.
    again = await deliver(rt, {**payment, "event_id": out["event_id"]}, path=path)
    assert again["output"]["duplicate"] is True and again["output"]["capture"] == "refused"
    assert len(calls(httpserver, "/v1/charges/ch_dup/capture")) == 1
    replay = await rt.execute(rt.load_workflow(VARIANTS[path]), {"order_id": order})
    assert replay["output"]["consistent"] is True


async def test_an_order_created_sent_four_times_sends_one_confirmation(
    variant: tuple[Any, str], httpserver: HTTPServer, mailbox: Mailbox
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    order = order_id()
    created = lifecycle(order)[0]
    runs = [await deliver(rt, created, path=path) for _ in range(4)]
    assert [r["output"]["version"] for r in runs] == [1, 2, 3, 4]  # four events
    assert runs[0]["output"]["confirmation_skipped"] is None
    assert {r["output"]["confirmation_skipped"] for r in runs[1:]} == {
        "the order already has an address: its confirmation goes once, with its first"
        " order_created naming one"
    }
    assert [m["To"] for m in mailbox.messages if order in str(m["Subject"])] == ["ada@example.com"]
    held = await rt.db.pool.fetchval(
        "SELECT count(*) FROM subscriber_outbox WHERE order_id = $1 AND subscriber = 'email'",
        order,
    )
    assert held == 0


async def test_a_late_order_created_confirms_an_order_that_had_no_address(
    es_runtime: Any, httpserver: HTTPServer, mailbox: Mailbox
) -> None:
    """Sent out of order, the payment first: the creation still gives the order its
    address, so its confirmation goes (once)."""
    stand_ins(httpserver)
    order = order_id()
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, paid)
    await deliver(es_runtime, created)
    assert len([m for m in mailbox.messages if order in str(m["Subject"])]) == 1


@pytest.mark.parametrize(
    ("before", "confirmed", "skipped"),
    [
        (None, "ada@example.com", None),
        ({"status": "new", "items": [{"sku": "A"}]}, "ada@example.com", None),
        ({"status": "paid", "customer": {"email": None}}, "ada@example.com", None),
        ({"status": "pending", "customer": {"email": "ada@example.com"}}, None, "already has"),
        ({"status": "cancelled"}, None, "the order is cancelled"),
        ({"status": "delivered"}, None, "the order is delivered"),
    ],
)
def test_the_confirmation_goes_with_the_creation_that_gives_the_order_its_address(
    lib_path: Path, before: Any, confirmed: str | None, skipped: str | None
) -> None:
    from order_outbox import confirmation

    decided = confirmation(before, "order_created", {"email": "ada@example.com"})
    assert decided["to"] == confirmed
    assert (decided["skipped"] is None) is (skipped is None)
    assert skipped is None or skipped in decided["skipped"]
    assert confirmation(before, "item_added", {"email": "ada@example.com"})["to"] is None
    assert confirmation(before, "order_created", {"email": "  "}) == {"to": None, "skipped": None}


def test_a_second_charge_for_a_paid_order_is_neither_applied_nor_captured(
    lib_path: Path,
) -> None:
    from order_capture import capture_refusal
    from order_events import fold

    def ev(etype: str, n: int, **data: Any) -> dict[str, Any]:
        return {"event_id": f"e{n}", "event_type": etype, "data": data}

    paid = fold([ev("order_created", 1), ev("payment_received", 2, charge_id="ch_a")])
    assert capture_refusal(paid, "payment_received", "succeeded") == (
        "the order is already paid (charge ch_a)"
    )
    other = fold([ev("payment_received", 3, charge_id="ch_b")], paid)
    assert other["payment"]["charge_id"] == "ch_a"
    assert other["anomalies"][-1]["reason"] == "payment_received while paid: not applied"
    shipped = fold([ev("order_shipped", 3), ev("payment_received", 4, charge_id="ch_b")], paid)
    assert shipped["status"] == "shipped" and shipped["payment"]["charge_id"] == "ch_a"
    assert shipped["anomalies"][-1]["reason"] == (
        "payment_received while shipped, already paid: not applied"
    )
