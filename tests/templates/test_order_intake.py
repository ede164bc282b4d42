"""Order Processing's `enrich` (lib/order_intake.py): what a black-box round found
it stored that it must not, and settings it did not check. Each refusal fails the
run in `enrich`, naming what is wrong, with nothing stored and no peer called."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.templates.es_support import calls, deliver, lifecycle, stand_ins, submit


def _order() -> str:
    return f"ord-{uuid.uuid4().hex[:8]}"


async def _stored(rt: Any, order: str) -> list[str]:
    rows = await rt.db.pool.fetch(
        "SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY aggregate_version", order
    )
    return [r[0] for r in rows]


async def test_an_event_id_of_0_is_an_id_and_its_redelivery_a_repeat(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    # `body.pop("event_id") or …` read 0 as "no id": each redelivery was appended
    # and captured again.
    stand_ins(httpserver)
    order = _order()
    await deliver(es_runtime, lifecycle(order)[0])
    paid = {**lifecycle(order)[1], "event_id": 0}
    first = await deliver(es_runtime, paid)
    again = await deliver(es_runtime, paid)
    assert first["output"]["duplicate"] is False
    assert again["output"]["duplicate"] is True
    assert again["output"]["event_id"] == first["output"]["event_id"]
    assert await _stored(es_runtime, order) == ["order_created", "payment_received"]
    keys = {r.headers["Idempotency-Key"] for r in calls(httpserver, "/v1/charges/ch_123/capture")}
    assert keys == {f"capture-{first['output']['event_id']}"}


@pytest.mark.parametrize(("event_id", "shown"), [(False, "False"), ("", "''"), ("  ", "'  '"),
                                                 ({"a": 1}, "{'a': 1}")])  # fmt: skip
async def test_an_event_id_that_is_no_id_is_refused(
    es_runtime: Any, httpserver: HTTPServer, event_id: Any, shown: str
) -> None:
    order = _order()
    result = await submit(es_runtime, {**lifecycle(order)[0], "event_id": event_id})
    assert result["status"] == "failed"
    assert result["error"]["block"] == "enrich"
    assert (
        f"event for order {order}: event_id must be text or a whole number, not {shown}; not appended"
        in result["error"]["message"]
    )
    assert await _stored(es_runtime, order) == []


async def test_an_event_id_follows_the_rule_of_order_id(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """Black-box report: "8" and " 8 " were stored as two events, while an order_id
    with spaces around it was refused; an event_id 7.0 was refused, while an
    order_id 42.0 was taken as 42."""
    stand_ins(httpserver)
    order = _order()
    created = lifecycle(order)[0]
    padded = await submit(es_runtime, {**created, "event_id": f" {order}-8 "})
    assert padded["status"] == "failed" and padded["error"]["block"] == "enrich"
    assert (
        f"event for order {order}: event_id ' {order}-8 ' has spaces around it (an id is taken"
        " as sent, so it would be another event than the id without them); not appended"
        in padded["error"]["message"]
    )
    for bad, why in ((1.5, "event_id 1.5 is not a whole number"),
                     (1e20, "event_id 1e+20 is past 9007199254740991")):  # fmt: skip
        refused = await submit(es_runtime, {**created, "event_id": bad})
        assert refused["status"] == "failed" and why in refused["error"]["message"]
    assert await _stored(es_runtime, order) == []
    # A whole number is its digits, however it is written: one event.
    n = uuid.uuid4().int % 10**12
    first = await deliver(es_runtime, {**created, "event_id": float(n)})
    for same in (n, str(n)):
        again = await deliver(es_runtime, {**created, "event_id": same})
        assert again["output"]["duplicate"] is True
        assert again["output"]["event_id"] == first["output"]["event_id"]
    assert await _stored(es_runtime, order) == ["order_created"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"charge_id": None}, "a payment_received must carry the charge_id of the charge to capture"),
        ({"amount_cents": -99999}, "amount_cents must be a whole number of cents from 0, not -99999"),
        ({"event_version": 1, "amount_cents": None, "amount": -12.5},
         "amount must be a number from 0 with at most two decimals (such as 12.5), not -12.5"),
        ({"event_version": 1, "amount_cents": None, "amount": 0.125},
         "amount must be a number from 0 with at most two decimals (such as 12.5), not 0.125"),
    ],
)  # fmt: skip
async def test_a_payment_the_capture_or_the_books_cannot_take_is_refused(
    es_runtime: Any, httpserver: HTTPServer, change: dict[str, Any], why: str
) -> None:
    # No charge_id: stored, it set the order paid with a charge nobody could ever
    # capture. Negative money was captured; 0.125 was stored as 12 cents.
    stand_ins(httpserver)
    order = _order()
    await deliver(es_runtime, lifecycle(order)[0])
    paid = {k: v for k, v in {**lifecycle(order)[1], **change}.items() if v is not None}
    result = await submit(es_runtime, paid)
    assert result["status"] == "failed"
    assert result["error"]["block"] == "enrich"
    assert why in result["error"]["message"]
    assert await _stored(es_runtime, order) == ["order_created"]
    assert calls(httpserver, "/v1/charges/ch_123/capture") == []


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"total_cents": -1}, "total_cents must be a whole number of cents from 0, not -1"),
        ({"event_version": 1, "name": ["x", "y"]}, "name must be text, not a JSON array"),
    ],
)
async def test_an_order_the_books_cannot_take_is_refused(
    es_runtime: Any, change: dict[str, Any], why: str
) -> None:
    order = _order()
    result = await submit(es_runtime, {**lifecycle(order)[0], **change})
    assert result["status"] == "failed" and why in result["error"]["message"]
    assert await _stored(es_runtime, order) == []


@pytest.mark.parametrize("value", ["abc", "1.5", "0", "-5"])
async def test_a_bad_snapshot_every_is_named_and_nothing_is_stored(
    es_runtime: Any, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # "abc" failed with int()'s own words; 0 and -5 were quietly taken as 1.
    monkeypatch.setenv("SNAPSHOT_EVERY", value)
    order = _order()
    result = await submit(es_runtime, lifecycle(order)[0])
    assert result["status"] == "failed" and result["error"]["block"] == "enrich"
    assert (
        f"the setting SNAPSHOT_EVERY must be a whole number from 1 (keep every N-th version of"
        f" an order), not {value!r}; nothing was stored" in result["error"]["message"]
    )
    assert await _stored(es_runtime, order) == []


@pytest.mark.parametrize(
    ("setting", "value", "why"),
    [
        ("STRIPE_SECRET_KEY", None, "the setting STRIPE_SECRET_KEY is not set"),
        ("STRIPE_SECRET_KEY", "  ", "the setting STRIPE_SECRET_KEY is not set"),
        ("STRIPE_API_BASE", "notaurl", "the setting STRIPE_API_BASE is not an http:// or https:// URL"),
    ],
)  # fmt: skip
async def test_a_capture_without_its_settings_says_which_and_sends_nothing(
    es_runtime: Any,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str | None,
    why: str,
) -> None:
    # The run said "no answer from the processor" (Slack: "HTTP None") for a
    # capture that was never sent; a blank key went out as "Bearer ".
    stand_ins(httpserver)
    order = _order()
    await deliver(es_runtime, lifecycle(order)[0])
    if value is None:
        monkeypatch.delenv(setting)
    else:
        monkeypatch.setenv(setting, value)
    payment = {**lifecycle(order)[1], "event_id": f"pay-{order}"}
    result = await submit(es_runtime, payment)
    assert result["status"] == "failed" and result["error"]["block"] == "result"
    assert f"({why}, so no capture was sent; see event_correlations)" in result["error"]["message"]
    # The payment is a fact, stored; its capture failed, recorded as such.
    assert await _stored(es_runtime, order) == ["order_created", "payment_received"]
    row = await es_runtime.db.pool.fetchrow(
        "SELECT c.status, c.http_status, c.response->>'error' AS error"
        "  FROM event_correlations c JOIN events e USING (event_id) WHERE e.aggregate_id = $1",
        order,
    )
    assert (row["status"], row["http_status"]) == ("failed", None)
    assert row["error"] == f"{why}, so no capture was sent"
    assert calls(httpserver, "/v1/charges/ch_123/capture") == []
    slack = [r.get_json()["text"] for r in calls(httpserver, "/slack/hook")]
    assert any(
        order in text and f"FAILED ({why}, so no capture was sent)" in text for text in slack
    )
    # With the setting back, a resend of the payment captures it, once.
    monkeypatch.undo()
    again = await deliver(es_runtime, payment)
    assert again["output"]["duplicate"] is True and again["output"]["capture"] == "succeeded"
    assert len(calls(httpserver, "/v1/charges/ch_123/capture")) == 1


async def test_a_signed_webhook_id_names_the_event_whatever_idempotency_key_comes_with_it(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    # The Idempotency-Key came first: a captured signed delivery (its webhook-id
    # is signed, an Idempotency-Key is not) resent with a new key was stored and
    # captured again.
    stand_ins(httpserver)
    order = _order()
    await deliver(es_runtime, lifecycle(order)[0])
    hook_id = f"msg_{order}"
    first = await deliver(
        es_runtime, lifecycle(order)[1], {"webhook-id": hook_id, "Idempotency-Key": "k-1"}
    )
    again = await deliver(
        es_runtime, lifecycle(order)[1], {"webhook-id": hook_id, "Idempotency-Key": "k-2"}
    )
    assert again["output"]["duplicate"] is True
    assert again["output"]["event_id"] == first["output"]["event_id"]
    assert await _stored(es_runtime, order) == ["order_created", "payment_received"]
    assert len(calls(httpserver, "/v1/charges/ch_123/capture")) == 1


async def test_a_svix_id_names_the_event_as_a_webhook_id_does(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    # Svix sends the Standard Webhooks id as `svix-id`: read only as `webhook-id`,
    # the event's id came from the run, so its redelivery under a new
    # Idempotency-Key (or its retry after a failed run) was stored and captured again.
    stand_ins(httpserver)
    order = _order()
    await deliver(es_runtime, lifecycle(order)[0])
    hook_id = f"msg_{order}"
    first = await deliver(
        es_runtime, lifecycle(order)[1], {"svix-id": hook_id, "Idempotency-Key": f"k1-{order}"}
    )
    again = await deliver(
        es_runtime, lifecycle(order)[1], {"svix-id": hook_id, "Idempotency-Key": f"k2-{order}"}
    )
    assert again["output"]["duplicate"] is True
    assert again["output"]["event_id"] == first["output"]["event_id"]
    assert await _stored(es_runtime, order) == ["order_created", "payment_received"]
    assert len(calls(httpserver, "/v1/charges/ch_123/capture")) == 1


async def test_other_events_may_carry_amount_and_name_of_their_own(es_runtime: Any) -> None:
    """The v1 rules for `amount` and `name` were applied to every event type: an
    item's `"name": {"en": …}` or `"amount": 0.125` (kg) was refused."""
    order = _order()
    await deliver(es_runtime, lifecycle(order)[0])
    item = {"event_type": "item_added", "order_id": order, "sku": "mug",
            "name": {"en": "Mug", "de": "Becher"}, "amount": 0.125, "unit": "kg"}  # fmt: skip
    await deliver(es_runtime, item)
    assert await _stored(es_runtime, order) == ["order_created", "item_added"]


def test_a_lib_called_the_old_way_still_reads_data() -> None:
    """A workflow copied before `event_type` was asked for calls read_data(body):
    copying any template replaces the shared lib, and every event then failed."""
    from order_inputs import read_data

    read_data({"items": [], "amount_cents": 5})
    with pytest.raises(ValueError, match="items must be a JSON array"):
        read_data({"items": 5})


@pytest.mark.parametrize(
    ("forwarded", "stored"),
    [
        # The proxy appends the address it saw: the entries before it are the client's.
        ({"X-Forwarded-For": "203.0.113.9, 10.0.0.1"}, "10.0.0.1"),
        ({"X-Forwarded-For": "198.51.100.7,203.0.113.9 ,  192.0.2.1 "}, "192.0.2.1"),
        ({"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"),
        ({}, None),
    ],
)
async def test_the_address_stored_is_the_one_the_proxy_added(
    es_runtime: Any, httpserver: HTTPServer, forwarded: dict[str, str], stored: str | None
) -> None:
    """The left-most X-Forwarded-For entry was stored as `metadata.ip_address`: a
    client's claim, whatever it wrote, where docs/deploy.md names the right-most."""
    stand_ins(httpserver)
    order = _order()
    result = await submit(es_runtime, lifecycle(order)[0], forwarded)
    assert result["status"] == "succeeded", result["error"]
    meta = await es_runtime.db.pool.fetchval(
        "SELECT metadata FROM events WHERE aggregate_id = $1", order
    )
    assert meta["ip_address"] == stored


@pytest.mark.parametrize(
    "given", ["body text", "body number", "Idempotency-Key", "webhook-id", None]
)
async def test_the_event_keeps_the_id_its_sender_gave_it(
    es_runtime: Any, httpserver: HTTPServer, given: str | None
) -> None:
    """The shop's own id for an event (`event_id` in the body, else the delivery's
    webhook-id or Idempotency-Key) was stored only hashed to a UUID: once the run log
    is pruned (30 days by default), nothing in the book of record said which of the
    shop's events or deliveries a stored event was, and "did you book evt-7?" had no
    answer short of recomputing the hash. It is kept, as read, in
    `metadata.sender_event_id` (null when none was given)."""
    stand_ins(httpserver)
    order = _order()
    number = uuid.uuid4().int % 2**52
    body, headers, kept = lifecycle(order)[0], {}, None
    if given == "body text":
        body, kept = {**body, "event_id": f"evt-{order}"}, f"evt-{order}"
    elif given == "body number":  # a whole number is its digits, as for order_id
        body, kept = {**body, "event_id": float(number)}, str(number)
    elif given == "Idempotency-Key":
        headers, kept = {"Idempotency-Key": f"k-{order}"}, f"k-{order}"
    elif given == "webhook-id":  # it comes first, as for the event's id
        headers, kept = (
            {"webhook-id": f"msg-{order}", "Idempotency-Key": f"k-{order}"},
            f"msg-{order}",
        )
    result = await submit(es_runtime, body, headers)
    assert result["status"] == "succeeded", result["error"]
    meta = await es_runtime.db.pool.fetchval(
        "SELECT metadata FROM events WHERE aggregate_id = $1", order
    )
    assert meta["sender_event_id"] == kept
