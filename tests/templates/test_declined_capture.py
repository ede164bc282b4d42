"""A payment whose capture failed does not make the order "already paid" (both
variants).

Black-box report bb81 #1: the processor declined the capture of ch_first (402);
the replacement payment ch_second, sent under a new Idempotency-Key, was refused as
"the order is already paid (charge ch_first)", and Slack told staff to fulfil on
it: no money was ever taken, and a resend of ch_second read its `refused` row and
did nothing. The refusal now applies only when the order's payment was captured."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import VARIANTS, calls, charge, deliver, lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


def slack_for(httpserver: HTTPServer, order: str) -> list[str]:
    return [t for r in calls(httpserver, "/slack/hook") if order in (t := r.get_json()["text"])]


async def test_a_declined_capture_leaves_the_order_payable_by_another_charge(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    first, second = f"ch_first_{tag}", f"ch_second_{tag}"
    httpserver.expect_request(f"/v1/charges/{first}/capture", method="POST").respond_with_json(
        {"error": {"message": "card declined"}}, status=402
    )
    httpserver.expect_request(f"/v1/charges/{second}/capture", method="POST").respond_with_json(
        {"id": second, "object": "charge", "captured": True, "amount_captured": 1250}
    )
    order = f"dec-{tag}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)

    declined = await submit(rt, {**paid, "charge_id": first}, {"Idempotency-Key": f"a-{tag}"}, path)
    assert declined["status"] == "failed"
    assert "HTTP 402" in declined["error"]["message"]

    # Another charge, under a new key: the order takes it, and it is captured.
    replacement = await deliver(
        rt, {**paid, "charge_id": second}, {"Idempotency-Key": f"b-{tag}"}, path=path
    )
    out = replacement["output"]
    assert (out["capture"], out["capture_refused"], out["status"]) == ("succeeded", None, "paid")
    assert len(calls(httpserver, f"/v1/charges/{second}/capture")) == 1
    state = await rt.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert state["payment"]["charge_id"] == second
    assert {
        "event_id": out["event_id"],
        "reason": f"payment_received replaces charge {first}, whose capture failed",
    } in state["anomalies"]
    # What made the order take it is stored with the event, for replay.
    marker = await rt.db.pool.fetchval(
        "SELECT metadata->'replaces_payment' FROM events WHERE event_id = $1",
        uuid.UUID(out["event_id"]),
    )
    assert marker["charge_id"] == first and marker["capture"] == "failed"
    assert marker["http_status"] == 402  # a refusal: no money was taken
    texts = slack_for(httpserver, order)
    assert texts[-1] == f"Order {order} is paid (charge {second}): ready for fulfillment."
    assert not any("fulfil on it" in t for t in texts)

    # The declined payment's delivery resent: a later payment took its place, so it
    # is not captured (that would take the money twice).
    again = await submit(rt, {**paid, "charge_id": first}, {"Idempotency-Key": f"a-{tag}"}, path)
    assert again["status"] == "succeeded", again["error"]
    assert again["output"]["duplicate"] is True and again["output"]["capture"] == "refused"
    assert again["output"]["capture_refused"].startswith(
        f"a later payment took its place (charge {second})"
    )
    assert len(calls(httpserver, f"/v1/charges/{first}/capture")) == 1
    assert "Release this charge" in slack_for(httpserver, order)[-1]

    # The captured payment sent again under a new key: already paid, not captured twice.
    dup = await deliver(
        rt, {**paid, "charge_id": second}, {"Idempotency-Key": f"c-{tag}"}, path=path
    )
    assert dup["output"]["capture_refused"] == f"the order is already paid (charge {second})"
    assert len(calls(httpserver, f"/v1/charges/{second}/capture")) == 1

    replay = await rt.execute(rt.load_workflow(VARIANTS[path]), {"order_id": order})
    assert replay["status"] == "succeeded", replay["error"]
    assert replay["output"]["consistent"] is True
    assert replay["output"]["state"]["payment"]["charge_id"] == second


class DeclinesOnce:
    """A processor that declines a charge's first capture (402), then captures it."""

    def __init__(self, charge: str) -> None:
        self.charge = charge
        self.seen = 0

    def __call__(self, request: Request) -> Response:
        self.seen += 1
        if self.seen == 1:
            return Response(json.dumps({"error": {"message": "card declined"}}), status=402)
        body = {"id": self.charge, "object": "charge", "captured": True, "amount_captured": 1250}
        return Response(json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("since", ["replaced", "cancelled"])
async def test_a_rerun_of_the_declined_run_decides_again_from_what_happened_since(
    variant: tuple[Any, str], httpserver: HTTPServer, since: str
) -> None:
    """A re-run from the failed block (POST /api/runs/<id>/rerun) captured again on
    the decision its run had made: after another charge paid the order, both were
    captured; after a cancellation, a cancelled order's money was taken."""
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    first, second = f"ch_first_{tag}", f"ch_second_{tag}"
    stripe = DeclinesOnce(first)
    httpserver.expect_request(f"/v1/charges/{first}/capture", method="POST").respond_with_handler(
        stripe
    )
    httpserver.expect_request(f"/v1/charges/{second}/capture", method="POST").respond_with_json(
        {"id": second, "object": "charge", "captured": True, "amount_captured": 1250}
    )
    order = f"rer-{tag}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)
    declined = await submit(rt, {**paid, "charge_id": first}, path=path)
    assert declined["status"] == "failed"
    if since == "replaced":
        await deliver(rt, {**paid, "charge_id": second}, {"Idempotency-Key": f"b-{tag}"}, path=path)
        why = f"a later payment took its place (charge {second})"
    else:
        cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "fraud"}
        await deliver(rt, cancel, path=path)
        why = "the order is cancelled"

    again = await rt.wait((await rt.rerun(declined["execution_id"])).execution_id, timeout=60)
    assert again["status"] == "succeeded", again["error"]
    assert again["output"]["capture"] == "refused"
    assert again["output"]["capture_refused"].startswith(why)
    assert stripe.seen == 1  # the decline; nothing captured since
    row = await rt.db.pool.fetchrow(
        "SELECT c.status, c.response FROM event_correlations c JOIN events e USING (event_id)"
        " WHERE e.aggregate_id = $1 AND e.data->>'charge_id' = $2",
        order,
        first,
    )
    assert row["status"] == "refused" and row["response"]["refused"].startswith(why)


class ComesBack:
    """A processor that answers ``status`` (402: declined; 500: down) to every
    capture until it is back (``down`` False), then captures; ``captured`` lists the
    Idempotency-Keys a capture was made under."""

    def __init__(self, charge_id: str, status: int) -> None:
        self.charge_id, self.status = charge_id, status
        self.down = True
        self.captured: list[str] = []

    def __call__(self, request: Request) -> Response:
        if self.down:
            return Response(json.dumps({"error": {"message": "no"}}), status=self.status)
        self.captured.append(request.headers.get("Idempotency-Key", ""))
        return Response(json.dumps(charge(self.charge_id)), content_type="application/json")


@pytest.mark.parametrize("status", [402, 500])
async def test_the_same_charge_resent_under_a_new_key_is_never_called_one_to_release(
    variant: tuple[Any, str], httpserver: HTTPServer, status: int
) -> None:
    """Black-box report bb83 #1: ch_down's capture was declined, the same charge sent
    again under a new key took its place and was captured, then the first
    delivery's retry was refused, and Slack said "Release this charge: the order's
    payment is the later one": the order's only payment. (After a 500 the new key
    is refused instead, and the retry captures: one capture either way.)"""
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    same = f"ch_down_{tag}"
    stripe = ComesBack(same, status)
    httpserver.expect_request(f"/v1/charges/{same}/capture", method="POST").respond_with_handler(
        stripe
    )
    order = f"same-{tag}"
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "charge_id": same}
    await deliver(rt, created, path=path)
    failed = await submit(rt, paid, {"Idempotency-Key": f"kd-2-{tag}"}, path)
    assert failed["status"] == "failed" and f"HTTP {status}" in failed["error"]["message"]

    stripe.down = False
    resent = await deliver(rt, paid, {"Idempotency-Key": f"kd-3-{tag}"}, path=path)
    retry = await deliver(rt, paid, {"Idempotency-Key": f"kd-2-{tag}"}, path=path)
    assert len(stripe.captured) == 1  # the customer is charged once
    texts = slack_for(httpserver, order)
    if status == 500:  # the first payment's outcome unknown: the new key waits for it
        assert resent["output"]["capture"] == "refused"
        assert retry["output"]["capture"] == "succeeded"
        assert texts[-1] == f"Order {order} is paid (charge {same}): ready for fulfillment."
        assert "Release this charge if it is another one" in texts[-2]
        return
    assert resent["output"]["capture"] == "succeeded"
    assert retry["output"]["capture"] == "refused"
    assert retry["output"]["capture_refused"].startswith(
        f"a later payment took its place (charge {same})"
    )
    assert texts[-2] == f"Order {order} is paid (charge {same}): ready for fulfillment."
    assert texts[-1] == (
        f":information_source: Order {order}: a repeat of a payment (charge {same}) was not"
        " captured: the same charge, sent since under another Idempotency-Key, took that"
        " payment's place after its capture failed. It is the order's payment: do NOT release"
        " it. Its capture is the later payment's (see event_correlations)."
    )


async def test_a_payment_refused_on_an_order_cancelled_before_it_says_so_once(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    """Black-box report bb83 #4: a payment arriving after the cancellation was said
    to meet an order "cancelled since", after a sentence saying it was cancelled."""
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    declined, ok = f"ch_no_{tag}", f"ch_ok_{tag}"
    httpserver.expect_request(f"/v1/charges/{declined}/capture", method="POST").respond_with_json(
        {"error": {"message": "card declined"}}, status=402
    )
    order = f"late-{tag}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)
    assert (await submit(rt, {**paid, "charge_id": declined}, path=path))["status"] == "failed"
    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "fraud"}
    await deliver(rt, cancel, path=path)

    late = await deliver(rt, {**paid, "charge_id": ok}, path=path)
    assert late["output"]["capture_refused"] == "the order is cancelled"
    assert calls(httpserver, f"/v1/charges/{ok}/capture") == []
    assert slack_for(httpserver, order)[-1] == (
        f":warning: Order {order}: a payment (charge {ok}) arrived but the order is cancelled:"
        " it was NOT captured. Do not fulfil; release this charge."
    )


def ev(etype: str, n: int, metadata: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "event_type": etype, "data": data, "metadata": metadata or {}}


def test_only_a_failed_capture_recorded_with_the_event_lets_a_payment_replace_another(
    lib_path: Path,
) -> None:
    """Events stored before the marker existed replay as they did: a second payment
    is not applied. The marker counts only for the payment the order holds."""
    from order_events import fold

    paid = fold([ev("order_created", 1), ev("payment_received", 2, charge_id="ch_a")])
    unmarked = fold([ev("payment_received", 3, charge_id="ch_b")], paid)
    assert unmarked["payment"]["charge_id"] == "ch_a"
    assert unmarked["anomalies"][-1]["reason"] == "payment_received while paid: not applied"

    failed_a = {"replaces_payment": {"event_id": "e2", "charge_id": "ch_a", "capture": "failed"}}
    marked = fold([ev("payment_received", 3, failed_a, charge_id="ch_b")], paid)
    assert marked["status"] == "paid" and marked["payment"]["charge_id"] == "ch_b"
    assert {"event_id": "e3", "reason": "payment_received replaces charge ch_a, whose capture failed"} in marked["anomalies"]  # fmt: skip

    other = {"replaces_payment": {"event_id": "e9", "charge_id": "ch_z", "capture": "failed"}}
    stale = fold([ev("payment_received", 3, other, charge_id="ch_b")], paid)
    assert stale["payment"]["charge_id"] == "ch_a"


@pytest.mark.parametrize(
    ("capture", "refused", "fulfil"),
    [
        ("succeeded", "the order is already paid (charge ch_a)", True),
        ("failed", None, False),
        (None, "the order already holds a payment (charge ch_a) whose capture has no outcome yet",
         False),
    ],
)  # fmt: skip
def test_already_paid_means_captured(
    lib_path: Path, capture: str | None, refused: str | None, fulfil: bool
) -> None:
    from order_capture import capture_refusal
    from order_events import fold
    from order_outbox import payment_note

    paid = fold([ev("order_created", 1), ev("payment_received", 2, charge_id="ch_a")])
    assert capture_refusal(paid, "payment_received", capture) == refused
    if refused is not None:
        note = payment_note({"order_id": "o1", "charge_id": "ch_b", "capture": "refused",
                             "refused": refused})  # fmt: skip
        assert ("fulfil on it" in note) is fulfil


def test_a_workflow_that_does_not_say_whether_the_payment_was_captured_never_says_fulfil(
    lib_path: Path,
) -> None:
    """Workflow files copied by earlier releases call capture_refusal without the
    held payment's capture: still refused, but not called paid."""
    from order_capture import capture_refusal
    from order_events import fold
    from order_outbox import payment_note

    paid = fold([ev("order_created", 1), ev("payment_received", 2, charge_id="ch_a")])
    refused = capture_refusal(paid, "payment_received")
    assert refused == "the order already holds a payment (charge ch_a)"
    note = payment_note({"order_id": "o1", "charge_id": "ch_b", "capture": "refused",
                         "refused": refused})  # fmt: skip
    assert "fulfil on it" not in note and "NOT captured" in note
