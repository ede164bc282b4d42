"""Lifecycle rules and event data, end to end and in the reducer.

Black-box report D12: a late ``order_created`` reset a paid order to pending
and dropped items added before it. D11: the reducer raised on odd data
(``"amount": "12,50"``, ``"items": 5``), so an order stored that way could
never be replayed. D14: ``items`` as an object became its key names, in an
order replay did not reproduce. D18: a ``total_cents`` past BIGINT failed the
search index on every later event. D8: a hung subscriber held the order's
next events for about two minutes."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest
from es_support import deliver, lifecycle, stand_ins, submit
from order_events import apply_event, fold
from pytest_httpserver import HTTPServer
from werkzeug import Response


async def replay(rt: Any, order: str) -> dict[str, Any]:
    result = await rt.execute(rt.load_workflow("replay_events"), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    return result["output"]


async def test_a_late_order_created_resets_nothing(es_runtime: Any, httpserver: HTTPServer) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, paid)
    await deliver(es_runtime, {"event_type": "item_added", "order_id": order, "sku": "B"})
    last = await deliver(es_runtime, created)
    assert last["output"]["status"] == "paid"
    state = await es_runtime.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert [i["sku"] for i in state["items"]] == ["A", "B"]
    assert state["customer"]["email"] == "ada@example.com" and state["total_cents"] == 1250
    assert state["payment"]["charge_id"] == "ch_123"
    assert "order_created while paid" in [a["reason"] for a in state["anomalies"]]
    out = await replay(es_runtime, order)
    assert out["consistent"] is True


def test_a_second_order_created_does_not_double_the_items() -> None:
    created = {"event_type": "order_created", "data": {"items": [{"sku": "A"}], "user_id": "u1"}}
    state = fold([created, {**created, "data": {"items": [{"sku": "A"}], "email": "a@x"}}])
    assert state is not None and state["items"] == [{"sku": "A"}] and state["status"] == "pending"
    assert state["customer"] == {
        "user_id": "u1",
        "first_name": None,
        "last_name": None,
        "email": "a@x",
    }


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"event_type": "payment_received", "event_version": 1, "data": {"amount": "12,50"}}, "ValueError"),
        ({"event_type": "payment_received", "event_version": 1, "data": {"amount": None}}, "TypeError"),
        ({"event_type": "order_created", "data": {"items": 5}}, "TypeError"),
        ({"event_type": "order_created", "data": {"items": {"sku": "A", "qty": 2}}}, "TypeError"),
    ],
)  # fmt: skip
def test_the_reducer_keeps_data_it_cannot_apply_as_an_anomaly(
    event: dict[str, Any], reason: str
) -> None:
    start = {"status": "pending", "items": [{"sku": "Z"}], "anomalies": []}
    state = apply_event(start, {**event, "event_id": "e1"})
    assert state["items"] == [{"sku": "Z"}] and state["status"] == "pending"
    anomaly = state["anomalies"][-1]  # after "order_created while pending", for those
    assert anomaly["event_id"] == "e1" and reason in anomaly["reason"]
    assert "could not be applied" in anomaly["reason"] and "unreadable" not in anomaly


async def test_a_stored_event_with_odd_data_replays(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """Stored before the append refused such data (or by another writer)."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(es_runtime, lifecycle(order)[0])
    await es_runtime.db.pool.execute(
        "INSERT INTO events (event_id, event_type, event_version, aggregate_id, aggregate_version,"
        " data) VALUES ($1, 'payment_received', 1, $2, 2, $3)",
        uuid.uuid4(),
        order,
        {"charge_id": "ch_a1", "amount": "12,50"},
    )
    out = await replay(es_runtime, order)
    assert out["events"] == 2 and out["state"]["status"] == "pending"
    assert "could not be applied" in out["state"]["anomalies"][-1]["reason"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"items": 5}, "items must be a JSON array, not a JSON number"),
        ({"items": {"sku": "A", "qty": 2}}, "items must be a JSON array, not a JSON object"),
        ({"total_cents": 123456789012345678901234567890}, "total_cents must be a whole number of cents"),
        ({"total_cents": 0.1}, "total_cents must be a whole number of cents"),
        ({"amount_cents": "100"}, "amount_cents must be a whole number of cents"),
        # A v1 payment's amount (the upcaster reads it); other events' are their own.
        ({"event_type": "payment_received", "charge_id": "ch_1", "amount": "12,50"},
         "amount must be a number"),
        ({"event_type": "payment_received", "charge_id": "ch_1", "amount": True},
         "amount must be a number"),
    ],
)  # fmt: skip
async def test_data_the_reducer_cannot_apply_is_refused_before_it_is_stored(
    es_runtime: Any, httpserver: HTTPServer, data: dict[str, Any], message: str
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    result = await submit(es_runtime, {"event_type": "order_created", "order_id": order, **data})
    assert result["status"] == "failed" and result["error"]["block"] == "enrich"
    assert message in result["error"]["message"] and "not appended" in result["error"]["message"]
    stored = await es_runtime.db.pool.fetchval(
        "SELECT count(*) FROM events WHERE aggregate_id = $1", order
    )
    assert stored == 0


async def test_a_hung_subscriber_holds_the_order_seconds_not_minutes(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    httpserver.clear_all_handlers()
    release = threading.Event()
    hung: list[int] = []

    def hang(request: Any) -> Any:
        hung.append(1)
        release.wait(60)
        return Response("late")

    httpserver.expect_request("/customer/events").respond_with_handler(hang)
    httpserver.expect_request("/slack/hook").respond_with_data("ok")
    order = f"ord-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    try:
        result = await submit(es_runtime, lifecycle(order)[0])
        took = time.monotonic() - started
    finally:
        release.set()  # answer the hung requests now, not during the next test
        while len(httpserver.log) < len(hung):
            await asyncio.sleep(0.05)
    assert took < 15, took  # 2 attempts of 5 s and a 0.5 s backoff; it was 4 x 30 s
    assert "the customer system did not take" in result["error"]["message"]
