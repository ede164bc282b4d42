"""Slack's payment alert and the confirmation email are kept until taken, like the
customer system's notifications (test_customer_outbox.py).

A black-box round found both lost for good: Slack answering 503 for a payment,
the run succeeded with `subscriber_errors.slack`, and once Slack was back no run
ever posted the alert (a resend with the same key returned the first run, one
with a new key was a duplicate, which told nobody); the same for the email while
the SMTP server was down. Now each is written to `subscriber_outbox` with what it
reports, deleted once its peer took it, and sent by the order's next event or a
resend of one of its events, once."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from es_support import Mailbox, charge, deliver, lifecycle, submit
from processes import free_port
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class SlackStandIn:
    """Slack's incoming webhook: answers 503 while ``down``, else takes the text."""

    def __init__(self) -> None:
        self.down = False
        self.refused = 0
        self.texts: list[str] = []

    def __call__(self, request: Request) -> Response:
        if self.down:
            self.refused += 1
            return Response("service unavailable", status=503)
        self.texts.append(request.get_json()["text"])
        return Response("ok")

    def about(self, order: str) -> list[str]:
        return [t for t in self.texts if f"Order {order}" in t]


@pytest.fixture
def slack(httpserver: HTTPServer) -> SlackStandIn:
    """Stand-ins for every peer; Slack's can be taken down."""
    stand_in = SlackStandIn()
    httpserver.expect_request("/slack/hook", method="POST").respond_with_handler(stand_in)
    httpserver.expect_request("/customer/events", method="POST").respond_with_json({"ok": True})
    httpserver.expect_request("/v1/charges/ch_123/capture").respond_with_json(charge("ch_123"))
    return stand_in


class SmtpSwitch:
    """``down()`` points the templates at a port where no SMTP server listens,
    ``up()`` back at the stand-in: the Email block reads SMTP_PORT when it sends."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.port = os.environ["SMTP_PORT"]

    def down(self) -> None:
        self.monkeypatch.setenv("SMTP_PORT", str(free_port()))

    def up(self) -> None:
        self.monkeypatch.setenv("SMTP_PORT", self.port)


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> SmtpSwitch:
    return SmtpSwitch(monkeypatch)


def emails_for(mailbox: Mailbox, order: str) -> list[Any]:
    return [m for m in mailbox.messages if order in str(m["Subject"])]


async def held(rt: Any, order: str, subscriber: str) -> list[int]:
    rows = await rt.db.pool.fetch(
        "SELECT version FROM subscriber_outbox WHERE subscriber = $1 AND order_id = $2"
        " ORDER BY version",
        subscriber,
        order,
    )
    return [r[0] for r in rows]


def new_order() -> str:
    return f"ord-{uuid.uuid4().hex[:8]}"


async def test_a_slack_alert_held_while_slack_is_down_is_posted_by_a_resend_once(
    es_runtime: Any, slack: SlackStandIn
) -> None:
    order = new_order()
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "event_id": str(uuid.uuid4())}  # the shop's id: a resend is the same event
    await deliver(es_runtime, created)
    slack.down = True
    first = await deliver(es_runtime, paid, {"Idempotency-Key": f"pay-{order}"})
    # A Slack outage does not fail the run (the charge is captured, the order
    # paid); the alert is kept.
    assert first["output"]["capture"] == "succeeded"
    assert "503" in first["output"]["subscriber_errors"]["slack"]["message"]
    assert slack.refused == 3 and slack.about(order) == []  # the block's own retries
    assert await held(es_runtime, order, "slack") == [2]

    slack.down = False
    # The sender's resend under a new delivery id is the same event: a duplicate,
    # which posts what Slack has not taken.
    again = await deliver(es_runtime, paid, {"Idempotency-Key": f"pay-again-{order}"})
    assert again["output"]["duplicate"] is True
    assert again["output"]["capture"] == "already captured"
    assert not again["output"]["subscriber_errors"]
    assert slack.about(order) == [f"Order {order} is paid (charge ch_123): ready for fulfillment."]
    assert await held(es_runtime, order, "slack") == []
    # Taken: further repeats post nothing.
    await deliver(es_runtime, paid)
    assert len(slack.about(order)) == 1


async def test_held_slack_alerts_go_in_order_before_the_orders_next_event(
    es_runtime: Any, slack: SlackStandIn, httpserver: HTTPServer
) -> None:
    """Per order in version order, each once: two payments' alerts held while
    Slack is down go, first one first, with the order's next event. (The second
    charge is not captured: the order is already paid.)"""
    order = new_order()
    created, paid, shipped = lifecycle(order)[:3]
    await deliver(es_runtime, created)
    slack.down = True
    await deliver(es_runtime, paid)
    # The held alert is tried first and fails: this one is kept behind it.
    await deliver(es_runtime, {**paid, "charge_id": "ch_second"})
    assert slack.refused == 6 and await held(es_runtime, order, "slack") == [2, 3]
    slack.down = False
    result = await deliver(es_runtime, shipped)  # no alert of its own
    assert not result["output"]["subscriber_errors"]
    assert slack.about(order) == [
        f"Order {order} is paid (charge ch_123): ready for fulfillment.",
        f":warning: Order {order}: a payment (charge ch_second) arrived but the order is"
        " already paid (charge ch_123): it was NOT captured. The order's own payment stands:"
        " fulfil on it, and release this charge if it is another one.",
    ]
    assert [r.path for r, _ in httpserver.log if "ch_second" in r.path] == []
    assert await held(es_runtime, order, "slack") == []
    await deliver(es_runtime, lifecycle(order)[3])
    assert len(slack.about(order)) == 2


async def test_a_held_alert_says_where_the_charge_stands_when_it_is_posted(
    es_runtime: Any, slack: SlackStandIn, httpserver: HTTPServer
) -> None:
    """The capture failed and Slack was down: the warning is held. The resend
    that captures replaces it, so Slack hears "ready for fulfillment" once, not a
    stale warning first."""
    order = new_order()
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "charge_id": "ch_later"}
    await deliver(es_runtime, created)
    processor = {"down": True}

    def capture(request: Request) -> Response:
        if processor["down"]:
            return Response('{"error": "down"}', status=500, content_type="application/json")
        return Response(json.dumps(charge("ch_later")), content_type="application/json")

    httpserver.expect_request("/v1/charges/ch_later/capture").respond_with_handler(capture)
    slack.down = True
    key = {"Idempotency-Key": f"pay-{order}"}
    first = await submit(es_runtime, paid, key)
    assert first["status"] == "failed" and "has no known outcome" in first["error"]["message"]
    assert await held(es_runtime, order, "slack") == [2]
    processor["down"] = slack.down = False
    again = await deliver(es_runtime, paid, key)  # a failed run's key starts a new run
    assert again["output"]["capture"] == "succeeded"
    assert slack.about(order) == [
        f"Order {order} is paid (charge ch_later): ready for fulfillment."
    ]
    assert await held(es_runtime, order, "slack") == []


async def test_a_confirmation_email_held_while_smtp_is_down_is_sent_by_the_resend_once(
    es_runtime: Any, slack: SlackStandIn, mailbox: Mailbox, smtp: SmtpSwitch
) -> None:
    order = new_order()
    created = lifecycle(order)[0]
    key = {"Idempotency-Key": f"created-{order}"}
    smtp.down()
    first = await submit(es_runtime, created, key)
    # A lost email is worse than a late one: the run fails, so that the resend of
    # this delivery (a failed run's key starts a new run) sends it.
    assert first["status"] == "failed" and first["error"]["block"] == "result"
    assert "the confirmation email was not sent" in first["error"]["message"]
    assert await held(es_runtime, order, "email") == [1]
    assert emails_for(mailbox, order) == []

    smtp.up()
    again = await deliver(es_runtime, created, key)
    assert again["output"]["duplicate"] is True and not again["output"]["subscriber_errors"]
    [mail] = emails_for(mailbox, order)
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == f"We received your order {order}"
    assert await held(es_runtime, order, "email") == []
    # Sent: the order's next events and repeats send no second email.
    await deliver(es_runtime, {**created, "event_id": again["output"]["event_id"]})
    await deliver(es_runtime, lifecycle(order)[1])
    assert len(emails_for(mailbox, order)) == 1


async def test_a_held_email_goes_with_the_orders_next_event(
    es_runtime: Any, slack: SlackStandIn, mailbox: Mailbox, smtp: SmtpSwitch
) -> None:
    order = new_order()
    created, paid = lifecycle(order)[:2]
    smtp.down()
    assert (await submit(es_runtime, created))["status"] == "failed"
    smtp.up()
    result = await deliver(es_runtime, paid)
    assert result["output"]["version"] == 2 and not result["output"]["subscriber_errors"]
    assert len(emails_for(mailbox, order)) == 1
    assert await held(es_runtime, order, "email") == []


async def test_unset_settings_keep_nothing_and_send_nothing(
    es_runtime: Any,
    slack: SlackStandIn,
    mailbox: Mailbox,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No row is written for a subscriber whose setting is unset, so setting it
    later sends nothing about the events stored meanwhile."""
    for name in ("SLACK_WEBHOOK_URL", "ORDER_EMAIL_FROM", "CUSTOMER_WEBHOOK_URL"):
        monkeypatch.delenv(name)
    order = new_order()
    created, paid = lifecycle(order)[:2]
    for event in (created, paid):
        result = await deliver(es_runtime, event)
        assert not result["output"]["subscriber_errors"]
    assert (
        await es_runtime.db.pool.fetchval(
            "SELECT count(*) FROM subscriber_outbox WHERE order_id = $1", order
        )
        == 0
    )
    monkeypatch.undo()  # every setting back
    await deliver(es_runtime, {**paid, "event_id": result["output"]["event_id"]})
    assert slack.about(order) == [] and emails_for(mailbox, order) == []
    customer = [r for r, _ in httpserver.log if r.path == "/customer/events"]
    assert [r for r in customer if r.get_json()["order_id"] == order] == []


async def test_a_message_held_for_a_subscriber_unset_since_waits_for_its_setting(
    es_runtime: Any, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Owed when the event was stored, it is kept (not sent, not dropped) while
    the setting is unset, and sent once it is set again."""
    order = new_order()
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, created)
    slack.down = True
    await deliver(es_runtime, paid)
    slack.down = False
    url = os.environ["SLACK_WEBHOOK_URL"]
    monkeypatch.delenv("SLACK_WEBHOOK_URL")
    await deliver(es_runtime, lifecycle(order)[2])
    assert slack.about(order) == [] and await held(es_runtime, order, "slack") == [2]
    monkeypatch.setenv("SLACK_WEBHOOK_URL", url)
    await deliver(es_runtime, lifecycle(order)[3])
    assert len(slack.about(order)) == 1 and await held(es_runtime, order, "slack") == []


async def test_the_agent_variant_keeps_a_slack_alert_alike(
    agent_workflows: Any, slack: SlackStandIn
) -> None:
    order = new_order()
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "event_id": str(uuid.uuid4())}
    path = "orders/agent-events"
    await deliver(agent_workflows, created, path=path)
    slack.down = True
    first = await deliver(agent_workflows, paid, path=path)
    assert "slack" in first["output"]["subscriber_errors"]
    slack.down = False
    again = await deliver(agent_workflows, paid, path=path)
    assert again["output"]["duplicate"] is True
    assert slack.about(order) == [f"Order {order} is paid (charge ch_123): ready for fulfillment."]
    assert await held(agent_workflows, order, "slack") == []


async def test_a_held_ready_for_fulfillment_is_not_posted_for_an_order_cancelled_since(
    variant: tuple[Any, str], slack: SlackStandIn
) -> None:
    """Black-box report bb81 #2a: Slack was down for the payment; the order's
    cancellation then posted "ready for fulfillment". A held message is checked
    against the order when it is sent: Slack hears the order is cancelled."""
    rt, path = variant
    order = new_order()
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)
    slack.down = True
    assert (await deliver(rt, paid, path=path))["output"]["capture"] == "succeeded"
    assert await held(rt, order, "slack") == [2]
    slack.down = False
    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "fraud"}
    result = await deliver(rt, cancel, path=path)
    assert not result["output"]["subscriber_errors"]
    assert slack.about(order) == [
        f":warning: Order {order} was paid (charge ch_123), but it is cancelled since: do not"
        " fulfil; refund the charge."
    ]
    assert await held(rt, order, "slack") == []


async def test_a_held_confirmation_is_not_sent_to_an_order_cancelled_since(
    variant: tuple[Any, str],
    slack: SlackStandIn,
    mailbox: Mailbox,
    smtp: SmtpSwitch,
    httpserver: HTTPServer,
) -> None:
    """Black-box report bb81 #2b: SMTP was down for order_created; the order's
    cancellation then emailed "We will let you know when it ships". The held email
    is taken off the outbox unsent, in its place; the customer system still gets
    every event, in order, once."""
    rt, path = variant
    order = new_order()
    created = lifecycle(order)[0]
    smtp.down()
    first = await submit(rt, created, path=path)
    assert first["status"] == "failed" and await held(rt, order, "email") == [1]
    smtp.up()
    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "fraud"}
    result = await deliver(rt, cancel, path=path)
    assert emails_for(mailbox, order) == []
    created_id = await rt.db.pool.fetchval(
        "SELECT event_id::text FROM events WHERE aggregate_id = $1 AND aggregate_version = 1",
        order,
    )
    assert result["output"]["withdrawn"] == [
        {"subscriber": "email", "event_id": created_id, "why": "the order is cancelled"}
    ]
    assert await held(rt, order, "email") == []
    customer = [r.get_json() for r, _ in httpserver.log if r.path == "/customer/events"]
    assert [m["version"] for m in customer if m["order_id"] == order] == [1, 2]
    # Nothing of it is left to send: a later event sends no email either.
    await deliver(rt, cancel, path=path)
    assert emails_for(mailbox, order) == []
