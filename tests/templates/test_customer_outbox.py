"""The customer system's notifications are kept until it takes them.

A black-box round found a notification lost for good: the customer system was
down (500) for an order's first event, the run recorded the error, a resend was
a duplicate (which notified nobody), and the customer system then heard of
version 2, never of version 1. Now each notification is written to
`subscriber_outbox` with its event, deleted once answered 2xx, and what an order
still holds is sent first, in order, by its next event or a repeat of one."""

from __future__ import annotations

import uuid
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.templates.es_support import charge, deliver, lifecycle, submit


def customer_down_for(httpserver: HTTPServer, failures: int) -> list[dict[str, Any]]:
    """The customer system answers 500 `failures` times, then takes everything.
    Returns the notifications it took, in arrival order."""
    httpserver.clear_all_handlers()
    taken: list[dict[str, Any]] = []
    left = [failures]

    def customer(request: Request) -> Response:
        if left[0] > 0:
            left[0] -= 1
            return Response("down", status=500)
        taken.append({**request.get_json(), "key": request.headers["Idempotency-Key"]})
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/customer/events", method="POST").respond_with_handler(customer)
    httpserver.expect_request("/slack/hook").respond_with_data("ok")
    httpserver.expect_request("/v1/charges/ch_123/capture").respond_with_json(charge("ch_123"))
    return taken


async def _held(rt: Any, order: str) -> list[int]:
    rows = await rt.db.pool.fetch(
        "SELECT version FROM subscriber_outbox WHERE order_id = $1 ORDER BY version", order
    )
    return [r[0] for r in rows]


async def test_a_notification_the_customer_missed_comes_before_the_next_one(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    taken = customer_down_for(httpserver, failures=2)  # the first event's two attempts
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    first = await submit(es_runtime, created)
    # Stored, its notification kept; the run fails so that a resend sends it.
    assert first["status"] == "failed" and first["error"]["block"] == "result"
    assert "the customer system did not take" in first["error"]["message"]
    assert await _held(es_runtime, order) == [1]
    await deliver(es_runtime, paid)
    assert [(t["version"], t["event_type"]) for t in taken] == [
        (1, "order_created"),
        (2, "payment_received"),
    ]
    assert taken[0]["key"] == taken[0]["event_id"] and taken[0]["status"] == "pending"
    assert taken[1]["status"] == "paid" and taken[1]["order_id"] == order
    assert await _held(es_runtime, order) == []


async def test_a_resend_sends_what_the_customer_has_not_taken(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """The last event of an order has no next one: its resend (the same delivery,
    same Idempotency-Key) must send it, so its run fails while it is held (the key
    of a succeeded run starts nothing)."""
    taken = customer_down_for(httpserver, failures=2)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    key = {"Idempotency-Key": f"delivery-{order}"}
    first = await submit(es_runtime, lifecycle(order)[0], key)
    assert first["status"] == "failed"
    assert taken == [] and await _held(es_runtime, order) == [1]
    again = await deliver(es_runtime, lifecycle(order)[0], key)  # the sender's resend
    assert again["output"]["duplicate"] is True
    assert [t["version"] for t in taken] == [1]
    assert await _held(es_runtime, order) == []
    # Taken: a further repeat of the event sends nothing.
    await deliver(es_runtime, {**lifecycle(order)[0], "event_id": again["output"]["event_id"]})
    assert len(taken) == 1
