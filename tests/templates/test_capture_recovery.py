"""A payment whose run stored the event but did not capture its charge is
captured by a later delivery of that event, exactly once (both variants).

Black-box report D3: the transaction group ``order`` commits before ``capture``.
A run that then failed at the capture (processor down past the retries, or
``STRIPE_SECRET_KEY`` unset) left the event and the 'paid' snapshot committed and
the charge uncaptured; the resend of the delivery found a duplicate event and
skipped the capture, and the run succeeded: the money was never taken, silently."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from es_support import VARIANTS, calls, charge, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from blocks.webhook import accept


class Processor:
    """A Stripe stand-in that answers ``status`` (500) while ``down`` and captures once up."""

    def __init__(self) -> None:
        self.down = True
        self.status = 500
        self.seen: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.seen.append(request)
        if self.down:
            return Response(json.dumps({"error": "processor down"}), status=self.status)
        body = charge(request.path.split("/")[3])
        return Response(json.dumps(body), content_type="application/json")

    def keys(self) -> list[str]:
        return [r.headers.get("Idempotency-Key", "") for r in self.seen]


def processor(httpserver: HTTPServer, charge: str) -> Processor:
    stand_ins(httpserver)
    handler = Processor()
    httpserver.expect_request(f"/v1/charges/{charge}/capture", method="POST").respond_with_handler(
        handler
    )
    return handler


async def post(rt: Any, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    hdrs = {"Content-Type": "application/json"}
    if key is not None:
        hdrs["Idempotency-Key"] = key
    resp = await accept(rt, path, "POST", hdrs, {}, json.dumps(body).encode())
    assert resp.status == 202, resp.body
    return resp.body


async def stored(rt: Any, order: str) -> list[Any]:
    return await rt.db.pool.fetch(
        "SELECT event_id, aggregate_version FROM events"
        " WHERE aggregate_id = $1 AND event_type = 'payment_received'",
        order,
    )


async def correlation(rt: Any, event_id: Any) -> Any:
    return await rt.db.pool.fetchrow(
        "SELECT status, http_status, response FROM event_correlations"
        " WHERE event_id = $1 AND correlation_type = 'payment_capture'",
        event_id,
    )


def slack_for(httpserver: HTTPServer, order: str) -> list[str]:
    return [t for r in calls(httpserver, "/slack/hook") if order in (t := r.get_json()["text"])]


async def test_a_resend_after_a_failed_capture_captures_once_with_the_events_key(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    rt, path = variant
    charge = f"ch_rec_{uuid.uuid4().hex[:8]}"
    stripe = processor(httpserver, charge)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "charge_id": charge}
    await deliver(rt, created, path=path)
    key = f"pay-{order}"

    # 1. The processor is down past the retries: the run fails, saying so; the
    # event and its snapshot are committed (a fact), once.
    first = await post(rt, path, paid, key)
    run1 = await rt.wait(first["execution_id"], timeout=60)
    assert run1["status"] == "failed", run1["output"]
    assert run1["error"]["block"] == "result"
    # A 500 past the retries: the processor may have captured it (a resend asks again).
    assert "has no known outcome (HTTP 500" in run1["error"]["message"]
    assert "resend this delivery" in run1["error"]["message"]
    [event] = await stored(rt, order)
    event_id = str(event["event_id"])
    assert len(stripe.seen) == 4  # the first attempt and its 3 retries
    assert set(stripe.keys()) == {f"capture-{event_id}"}
    row = await correlation(rt, event["event_id"])
    assert (row["status"], row["http_status"]) == ("failed", 500)
    snap = await rt.db.pool.fetchrow(
        "SELECT version, state FROM order_snapshots WHERE order_id = $1", order
    )
    assert snap["version"] == 2 and snap["state"]["status"] == "paid"
    assert any("FAILED" in t for t in slack_for(httpserver, order))

    # 2. Fixed; the sender resends the same delivery: a new run (retry_of), which
    # finds the event stored and captures it, once, with the same key.
    stripe.down = False
    second = await post(rt, path, paid, key)
    assert second.get("retry_of") == first["execution_id"], second
    run2 = await rt.wait(second["execution_id"], timeout=60)
    assert run2["status"] == "succeeded", run2["error"]
    out = run2["output"]
    assert out["duplicate"] is True and out["event_id"] == event_id and out["version"] == 2
    assert out["capture"] == "succeeded" and out["capture_http_status"] == 200
    assert len(stripe.seen) == 5 and stripe.keys()[-1] == f"capture-{event_id}"
    row = await correlation(rt, event["event_id"])
    assert (row["status"], row["http_status"]) == ("succeeded", 200)
    assert [e["event_id"] for e in await stored(rt, order)] == [event["event_id"]]
    assert slack_for(httpserver, order)[-1].endswith("ready for fulfillment.")

    # 3. A third resend of the delivery: its run succeeded, nothing starts.
    third = await post(rt, path, paid, key)
    assert third.get("duplicate") is True and third["execution_id"] == second["execution_id"]
    # Any other delivery of the event (its id in the body, no key): a run that
    # finds the capture done and captures nothing.
    again = await deliver(rt, {**paid, "event_id": event_id}, path=path)
    assert again["output"]["duplicate"] is True
    assert again["output"]["capture"] == "already captured"
    assert again["blocks"]["capture"]["status"] == "skipped"
    assert len(stripe.seen) == 5
    assert len(await stored(rt, order)) == 1

    # The snapshot is what the events say.
    replay = await rt.execute(rt.load_workflow(VARIANTS[path]), {"order_id": order})
    assert replay["status"] == "succeeded", replay["error"]
    assert replay["output"]["consistent"] is True


async def test_a_capture_that_failed_on_an_unset_key_is_captured_by_the_resend(
    es_runtime: Any, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report's own case: serve started without STRIPE_SECRET_KEY."""
    rt = es_runtime
    charge = f"ch_key_{uuid.uuid4().hex[:8]}"
    stripe = processor(httpserver, charge)
    stripe.down = False
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "charge_id": charge}
    await deliver(rt, created)
    key = f"pay-{order}"
    saved = os.environ["STRIPE_SECRET_KEY"]
    monkeypatch.delenv("STRIPE_SECRET_KEY")
    first = await post(rt, "orders/events", paid, key)
    run1 = await rt.wait(first["execution_id"], timeout=60)
    assert run1["status"] == "failed"
    assert stripe.seen == []
    [event] = await stored(rt, order)
    monkeypatch.setenv("STRIPE_SECRET_KEY", saved)
    second = await post(rt, "orders/events", paid, key)
    assert second.get("retry_of") == first["execution_id"], second
    run2 = await rt.wait(second["execution_id"], timeout=60)
    assert run2["status"] == "succeeded", run2["error"]
    assert run2["output"]["capture"] == "succeeded"
    assert stripe.keys() == [f"capture-{event['event_id']}"]
    assert stripe.seen[0].headers["Authorization"] == f"Bearer {saved}"
    row = await correlation(rt, event["event_id"])
    assert row["status"] == "succeeded"


async def test_a_payment_cancelled_before_its_capture_is_retried_is_not_captured(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    """Money follows the order: a resend after the order was cancelled records a
    refusal instead of taking the money, and later repeats stay refused. (The
    first capture was declined, 402: no money taken. One with no known outcome is
    test_cancelled_after_unknown_capture.py's.)"""
    rt, path = variant
    charge = f"ch_can_{uuid.uuid4().hex[:8]}"
    stripe = processor(httpserver, charge)
    stripe.status = 402
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "charge_id": charge}
    await deliver(rt, created, path=path)
    key = f"pay-{order}"
    first = await post(rt, path, paid, key)
    assert (await rt.wait(first["execution_id"], timeout=60))["status"] == "failed"
    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "customer request"}
    await deliver(rt, cancel, path=path)
    stripe.down = False
    seen = len(stripe.seen)
    second = await post(rt, path, paid, key)
    run2 = await rt.wait(second["execution_id"], timeout=60)
    assert run2["status"] == "succeeded", run2["error"]
    out = run2["output"]
    assert out["duplicate"] is True and out["capture"] == "refused"
    assert out["capture_refused"] == "the order is cancelled"
    assert len(stripe.seen) == seen
    [event] = await stored(rt, order)
    row = await correlation(rt, event["event_id"])
    assert row["status"] == "refused" and row["response"] == {"refused": "the order is cancelled"}
    assert "NOT captured" in slack_for(httpserver, order)[-1]
    again = await deliver(rt, {**paid, "event_id": str(event["event_id"])}, path=path)
    assert again["output"]["capture"] == "refused"
    assert len(stripe.seen) == seen


async def test_a_refused_capture_is_recorded_and_a_repeat_stays_refused(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    rt, path = variant
    stripe = processor(httpserver, "ch_never")
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "charge_id": "ch_never", "event_id": str(uuid.uuid4())}
    await deliver(rt, created, path=path)
    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "customer request"}
    await deliver(rt, cancel, path=path)
    first = await deliver(rt, paid, path=path)
    assert first["output"]["capture"] == "refused"
    row = await correlation(rt, uuid.UUID(paid["event_id"]))
    assert row["status"] == "refused" and row["http_status"] is None
    again = await deliver(rt, paid, path=path)
    assert again["output"]["duplicate"] is True and again["output"]["capture"] == "refused"
    assert again["output"]["capture_refused"] == "the order is cancelled"
    assert stripe.seen == []


async def test_a_refusal_stored_before_refusals_had_a_row_is_not_captured_by_a_repeat(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """An earlier release recorded no row for a refused capture: the snapshot's
    anomaly (payment not applied) is what the repeat goes by."""
    rt = es_runtime
    stripe = processor(httpserver, "ch_old")
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "charge_id": "ch_old", "event_id": str(uuid.uuid4())}
    await deliver(rt, created)
    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "customer request"}
    await deliver(rt, cancel)
    await deliver(rt, paid)
    await rt.db.pool.execute(
        "DELETE FROM event_correlations WHERE event_id = $1", uuid.UUID(paid["event_id"])
    )
    # That release also applied an order_shipped after the cancellation (the
    # status left cancelled), so the status no longer says cancelled; the
    # anomaly still does.
    await rt.db.pool.execute(
        "UPDATE order_snapshots SET state = jsonb_set(state, '{status}', '\"shipped\"')"
        " WHERE order_id = $1",
        order,
    )
    again = await deliver(rt, paid)
    assert again["output"]["capture"] == "refused"
    assert again["output"]["capture_refused"] == (
        "the order did not take this payment when it arrived (cancelled or already paid)"
    )
    assert stripe.seen == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("order_created", None, None, "pending", False), (None, None)),
        (("payment_received", "succeeded", None, "paid", False), (None, "already captured")),
        (("payment_received", "refused", "the order is cancelled", "cancelled", True),
         (None, "refused")),
        (("payment_received", "failed", None, "paid", False), ("capture", "due")),
        (("payment_received", None, None, "shipped", False), ("capture", "due")),
        (("payment_received", None, None, "cancelled", False), ("refuse", "refused")),
        (("payment_received", "failed", None, "shipped", True), ("refuse", "refused")),
    ],
)  # fmt: skip
def test_repeated_capture_rule(lib_path: Any, args: tuple[Any, ...], expected: Any) -> None:
    from order_capture import repeated_capture

    decided = repeated_capture(*args)
    assert (decided["action"], decided["capture"]) == expected


async def test_a_rerun_after_a_failed_capture_captures_it_and_says_so(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    """A re-run from the failed block (POST /api/runs/<id>/rerun) captured the charge
    but carried over the first run's `correlate` (failed, 503) and failed again:
    "the charge is NOT captured". Without an event_id, `enrich` (its output held
    the secret STRIPE_API_BASE, so it ran again) named a new event and captured
    under its key."""
    rt, path = variant
    charge = f"ch_rer_{uuid.uuid4().hex[:8]}"
    stripe = processor(httpserver, charge)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)
    first = await post(rt, path, {**paid, "charge_id": charge})  # no event_id, no key
    run1 = await rt.wait(first["execution_id"], timeout=60)
    assert run1["status"] == "failed" and "has no known outcome" in run1["error"]["message"]
    [event] = await stored(rt, order)
    stripe.down = False
    sub = await rt.rerun(first["execution_id"])
    run2 = await rt.wait(sub.execution_id, timeout=60)
    assert run2["status"] == "succeeded", run2["error"]
    assert run2["output"]["capture"] == "succeeded"
    stored_run2 = await rt.run_result(sub.execution_id)  # the record, with reused_from
    assert stored_run2["blocks"]["enrich"]["reused_from"] == first["execution_id"]
    assert set(stripe.keys()) == {f"capture-{event['event_id']}"}
    row = await correlation(rt, event["event_id"])
    assert (row["status"], row["http_status"]) == ("succeeded", 200)
    assert len(await stored(rt, order)) == 1


def customer_calls(httpserver: HTTPServer, event_id: str) -> int:
    """How often the customer system was sent the event's notification."""
    return sum(
        1 for r in calls(httpserver, "/customer/events") if r.headers["Idempotency-Key"] == event_id
    )


def ready(httpserver: HTTPServer, order: str) -> int:
    return sum(1 for t in slack_for(httpserver, order) if t.endswith("ready for fulfillment."))


async def failed_payment(
    rt: Any, path: str, httpserver: HTTPServer, tag: str
) -> tuple[Processor, str, str, dict[str, Any], dict[str, Any]]:
    """An order whose payment (its event_id in the body) was stored by a run that
    failed at the capture and told the customer system once: (stand-in, order,
    event id, payment body, failed run's submission)."""
    charge = f"ch_{tag}_{uuid.uuid4().hex[:8]}"
    stripe = processor(httpserver, charge)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    event_id = str(uuid.uuid4())
    paid = {**paid, "charge_id": charge, "event_id": event_id}
    await deliver(rt, created, path=path)
    first = await post(rt, path, paid)
    run1 = await rt.wait(first["execution_id"], timeout=60)
    assert run1["status"] == "failed" and "has no known outcome" in run1["error"]["message"]
    assert customer_calls(httpserver, event_id) == 1
    assert any("FAILED" in t for t in slack_for(httpserver, order))
    return stripe, order, event_id, paid, first


async def test_a_rerun_after_a_failed_capture_does_not_notify_the_customer_again(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    """A re-run from the failed block carried over `save_snapshot`'s list of what the
    order held (the payment's customer notification, which the failed run had sent
    and deleted) and sent it again. The capture it makes is Slack's news, once."""
    rt, path = variant
    stripe, order, event_id, _, first = await failed_payment(rt, path, httpserver, "rn1")
    stripe.down = False
    run2 = await rt.wait((await rt.rerun(first["execution_id"])).execution_id, timeout=60)
    assert run2["status"] == "succeeded", run2["error"]
    assert run2["output"]["capture"] == "succeeded"
    assert customer_calls(httpserver, event_id) == 1
    assert ready(httpserver, order) == 1
    assert (await correlation(rt, uuid.UUID(event_id)))["status"] == "succeeded"
    held = await rt.db.pool.fetchval(
        "SELECT count(*) FROM subscriber_outbox WHERE order_id = $1", order
    )
    assert held == 0


async def test_a_rerun_after_a_resend_captured_the_payment_tells_nobody_again(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    """The resend captured the charge and told Slack; a re-run of the failed run
    afterwards sent the customer notification and "ready for fulfillment" again."""
    rt, path = variant
    stripe, order, event_id, paid, first = await failed_payment(rt, path, httpserver, "rn2")
    stripe.down = False
    resend = await deliver(rt, paid, path=path)
    assert resend["output"]["capture"] == "succeeded"
    assert ready(httpserver, order) == 1
    run3 = await rt.wait((await rt.rerun(first["execution_id"])).execution_id, timeout=60)
    assert run3["status"] == "succeeded", run3["error"]
    assert run3["output"]["capture"] == "succeeded"
    assert customer_calls(httpserver, event_id) == 1
    assert ready(httpserver, order) == 1
    row = await correlation(rt, uuid.UUID(event_id))
    assert (row["status"], row["http_status"]) == ("succeeded", 200)
    # Whatever the re-run's capture was answered, it was sent with the event's key.
    assert set(stripe.keys()) == {f"capture-{event_id}"}
