"""A re-run from the failed block sends only what the subscribers have not taken
(both variants).

Black-box report: order_created failed because the customer system answered 503;
the order's next event then delivered v1 and v2; a re-run of the failed run
(POST /api/runs/<id>/rerun, what "Re-run from failed block" sends) carried over the
list `save_snapshot` had read and sent v1 AGAIN, after v2 (the same for a payment
whose run failed on the customer system). The re-run now reads what the order
holds when it sends (`is_rerun`, `still_held`)."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from es_support import Mailbox, calls, charge, deliver, lifecycle, submit
from processes import free_port
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class Customer:
    """A customer-system stand-in that answers 503 while ``down``; keeps what it took."""

    def __init__(self) -> None:
        self.down = True
        self.taken: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Response:
        if self.down:
            return Response("unavailable", status=503)
        self.taken.append(request.get_json())
        return Response("{}", content_type="application/json")

    def versions(self, order: str) -> list[int]:
        return [m["version"] for m in self.taken if m["order_id"] == order]


def customer_system(httpserver: HTTPServer) -> Customer:
    customer = Customer()
    httpserver.expect_request("/customer/events", method="POST").respond_with_handler(customer)
    httpserver.expect_request("/slack/hook", method="POST").respond_with_data("ok")
    httpserver.expect_request("/v1/charges/ch_123/capture", method="POST").respond_with_json(
        charge("ch_123")
    )
    return customer


async def held(rt: Any, order: str) -> int:
    return await rt.db.pool.fetchval(
        "SELECT count(*) FROM subscriber_outbox WHERE order_id = $1", order
    )


async def rerun(rt: Any, run: dict[str, Any]) -> dict[str, Any]:
    """What the UI's "Re-run from failed block" does (POST .../rerun with `{}`)."""
    return await rt.wait((await rt.rerun(run["execution_id"])).execution_id, timeout=60)


def item_added(order: str) -> dict[str, Any]:
    return {"event_type": "item_added", "order_id": order, "sku": "B", "qty": 1}


async def test_a_rerun_does_not_send_again_what_a_later_event_delivered(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    rt, path = variant
    customer = customer_system(httpserver)
    order = f"cd-{uuid.uuid4().hex[:8]}"
    first = await submit(rt, lifecycle(order)[0], path=path)
    assert first["status"] == "failed"
    assert "the customer system did not take" in first["error"]["message"]
    customer.down = False
    await deliver(rt, item_added(order), path=path)
    assert customer.versions(order) == [1, 2]

    again = await rerun(rt, first)
    assert again["status"] == "succeeded", json.dumps(again["error"], default=str)
    assert customer.versions(order) == [1, 2]
    assert await held(rt, order) == 0


async def test_a_rerun_sends_what_is_still_held_once(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    rt, path = variant
    customer = customer_system(httpserver)
    order = f"cd-{uuid.uuid4().hex[:8]}"
    first = await submit(rt, lifecycle(order)[0], path=path)
    assert first["status"] == "failed"
    customer.down = False

    again = await rerun(rt, first)
    assert again["status"] == "succeeded", json.dumps(again["error"], default=str)
    assert customer.versions(order) == [1]
    assert await held(rt, order) == 0


async def test_a_rerun_of_a_payment_the_customer_missed_sends_nothing_taken_since(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    """The capture succeeded; the customer system was down, so the run failed. The
    order's next event delivered the payment's notification and its own."""
    rt, path = variant
    customer = customer_system(httpserver)
    order = f"cd-{uuid.uuid4().hex[:8]}"
    created, paid, shipped = lifecycle(order)[:3]
    customer.down = False
    await deliver(rt, created, path=path)
    customer.down = True
    first = await submit(rt, paid, path=path)
    assert first["status"] == "failed"
    assert "the customer system did not take" in first["error"]["message"]
    customer.down = False
    await deliver(rt, shipped, path=path)
    assert customer.versions(order) == [1, 2, 3]
    ready = [r for r in calls(httpserver, "/slack/hook") if order in r.get_json()["text"]]

    again = await rerun(rt, first)
    assert again["status"] == "succeeded", json.dumps(again["error"], default=str)
    assert again["output"]["capture"] == "succeeded"
    assert customer.versions(order) == [1, 2, 3]
    assert [r for r in calls(httpserver, "/slack/hook") if order in r.get_json()["text"]] == ready
    assert await held(rt, order) == 0


async def test_a_rerun_after_the_email_went_with_the_next_event_reports_what_is_true_now(
    es_runtime: Any, httpserver: HTTPServer, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SMTP down: order_created failed, its email kept; the next event sent it. The
    re-run carried `publish` over and failed again with "the confirmation email was
    not sent ... kept in subscriber_outbox", which was no longer true."""
    customer = customer_system(httpserver)
    customer.down = False
    order = f"cd-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    smtp_port = os.environ["SMTP_PORT"]
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # no SMTP server listens there
    first = await submit(es_runtime, created)
    assert first["status"] == "failed"
    assert "the confirmation email was not sent" in first["error"]["message"]
    monkeypatch.setenv("SMTP_PORT", smtp_port)
    await deliver(es_runtime, paid)
    assert len([m for m in mailbox.messages if order in str(m["Subject"])]) == 1

    again = await rerun(es_runtime, first)
    assert again["status"] == "succeeded", json.dumps(again["error"], default=str)
    assert not again["output"]["subscriber_errors"]
    assert len([m for m in mailbox.messages if order in str(m["Subject"])]) == 1
    assert customer.versions(order) == [1, 2]
    assert await held(es_runtime, order) == 0
