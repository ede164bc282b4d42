"""A capture whose outcome nobody knows does not make the order payable by another
charge (both variants).

`failed` covered a refusal by the processor (402 card declined: no money taken)
and an outcome nobody knows (a timeout, a dropped connection, 5xx past the
retries: the capture may have gone through) alike, and either let the next
payment_received take the held payment's place and capture its own charge: a
customer charged twice. Only a refusal does now; a second charge against an
unknown outcome is refused until a resend of the first delivery asks again."""

from __future__ import annotations

import json
import re
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from es_support import VARIANTS, calls, charge, deliver, lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from templates import ROOT


def slack_for(httpserver: HTTPServer, order: str) -> list[str]:
    return [t for r in calls(httpserver, "/slack/hook") if order in (t := r.get_json()["text"])]


class Processor:
    """A Stripe stand-in that keeps each Idempotency-Key's first outcome, as Stripe
    does. While ``down`` it answers 500 (``mode`` "HTTP 500": nothing captured), or
    captures the charge and drops the connection before answering (``mode`` "no
    answer": the money taken, the workflow never told). Up, it answers a key's
    first outcome, or captures."""

    def __init__(self, charge_id: str, mode: str) -> None:
        self.charge_id, self.mode = charge_id, mode
        self.down = True
        self.captured: set[str] = set()  # the keys a capture was made under
        self.asked = 0

    def __call__(self, request: Request) -> Response:
        self.asked += 1
        key = request.headers.get("Idempotency-Key", "")
        if self.down and self.mode == "HTTP 500":
            return Response(json.dumps({"error": {"message": "processor down"}}), status=500)
        self.captured.add(key)
        if self.down:  # the answer is lost: the client sees the connection close
            request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
            return Response("never read", status=200)
        return Response(json.dumps(charge(self.charge_id)), content_type="application/json")


async def capture_row(rt: Any, order: str, charge_id: str) -> Any:
    return await rt.db.pool.fetchrow(
        "SELECT c.status, c.http_status, c.response::text AS response, e.event_id::text"
        "  FROM events e LEFT JOIN event_correlations c"
        "    ON c.event_id = e.event_id AND c.correlation_type = 'payment_capture'"
        " WHERE e.aggregate_id = $1 AND e.data->>'charge_id' = $2",
        order,
        charge_id,
    )


@pytest.mark.parametrize("mode", ["HTTP 500", "no answer"])
async def test_a_second_charge_waits_for_the_first_captures_outcome(
    variant: tuple[Any, str], httpserver: HTTPServer, mode: str
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    first, second = f"ch_first_{tag}", f"ch_second_{tag}"
    stripe = Processor(first, mode)
    httpserver.expect_request(f"/v1/charges/{first}/capture", method="POST").respond_with_handler(
        stripe
    )
    httpserver.expect_request(f"/v1/charges/{second}/capture", method="POST").respond_with_json(
        charge(second)
    )
    order = f"unk-{tag}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)

    run1 = await submit(rt, {**paid, "charge_id": first}, {"Idempotency-Key": f"a-{tag}"}, path)
    assert run1["status"] == "failed"
    held = await capture_row(rt, order, first)
    assert held["status"] == "failed"
    assert held["http_status"] == (500 if mode == "HTTP 500" else None)
    message = run1["error"]["message"]
    assert "has no known outcome" in message and "may have captured it" in message
    assert "NOT captured" not in message
    assert "NO KNOWN OUTCOME" in slack_for(httpserver, order)[-1]

    # Another charge under a new key: refused, its charge never sent to the processor.
    run2 = await deliver(
        rt, {**paid, "charge_id": second}, {"Idempotency-Key": f"b-{tag}"}, path=path
    )
    out = run2["output"]
    assert out["capture"] == "refused", out
    why = "HTTP 500" if mode == "HTTP 500" else "no answer"
    assert out["capture_refused"].startswith(
        f"the order already holds a payment (charge {first}) whose capture has no known"
        f" outcome ({why})"
    )
    assert "Resending that payment's delivery asks again" in out["capture_refused"]
    assert f"capture-{held['event_id']}" in out["capture_refused"]
    assert calls(httpserver, f"/v1/charges/{second}/capture") == []
    note = slack_for(httpserver, order)[-1]
    assert f"(charge {second}) arrived but" in note and "it was NOT captured" in note
    assert "Do not fulfil: check the order's own charge with the processor" in note
    assert "ready for fulfillment" not in note and "fulfil on it" not in note
    assert (await capture_row(rt, order, second))["status"] == "refused"
    state = await rt.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert state["payment"]["charge_id"] == first
    assert not any("replaces charge" in a["reason"] for a in state["anomalies"])

    # The processor is back; the first delivery resent: asked again under the same
    # key, captured once, the order paid by it.
    stripe.down = False
    run3 = await deliver(
        rt, {**paid, "charge_id": first}, {"Idempotency-Key": f"a-{tag}"}, path=path
    )
    assert run3["output"]["duplicate"] is True and run3["output"]["capture"] == "succeeded"
    assert stripe.captured == {f"capture-{held['event_id']}"}
    assert (await capture_row(rt, order, first))["status"] == "succeeded"
    assert calls(httpserver, f"/v1/charges/{second}/capture") == []
    assert slack_for(httpserver, order)[-1] == (
        f"Order {order} is paid (charge {first}): ready for fulfillment."
    )
    replay = await rt.execute(rt.load_workflow(VARIANTS[path]), {"order_id": order})
    assert replay["status"] == "succeeded", replay["error"]
    assert replay["output"]["consistent"] is True
    assert replay["output"]["state"]["payment"]["charge_id"] == first


DROPPED = "POST http://127.0.0.1/v1/charges/ch/capture: timed out (ReadTimeout)"
ALREADY = (
    'POST http://127.0.0.1/v1/charges/ch/capture returned 400: {"error": {"code":'
    ' "charge_already_captured", "message": "Charge ch has already been captured."}}'
)
EXPIRED = (
    'POST http://127.0.0.1/v1/charges/ch/capture returned 400: {"error": {"code":'
    ' "charge_expired_for_capture"}}'
)


@pytest.mark.parametrize(
    ("http_status", "error", "payable"),
    [
        (None, DROPPED, False),  # a row with no http_status: no answer, or an old row
        (None, None, False),
        (409, "returned 409: idempotency_key_in_use", False),
        (429, "returned 429: rate limited", False),
        (408, "returned 408: request timeout", False),
        (503, "returned 503: unavailable", False),
        (400, ALREADY, False),  # the money WAS taken
        (400, EXPIRED, True),
        (402, "returned 402: card_declined", True),
        (404, "returned 404: resource_missing", True),
    ],
)  # fmt: skip
async def test_a_stored_failed_capture_is_judged_by_what_its_row_says(
    variant: tuple[Any, str],
    httpserver: HTTPServer,
    http_status: int | None,
    error: str | None,
    payable: bool,
) -> None:
    """Rows written before this release are judged the same way: from their
    http_status (and the answer's words), not from a new status."""
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    first, second = f"ch_first_{tag}", f"ch_second_{tag}"
    httpserver.expect_request(f"/v1/charges/{first}/capture", method="POST").respond_with_json(
        {"error": {"message": "card declined"}}, status=402
    )
    httpserver.expect_request(f"/v1/charges/{second}/capture", method="POST").respond_with_json(
        charge(second)
    )
    order = f"row-{tag}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)
    await submit(rt, {**paid, "charge_id": first}, {"Idempotency-Key": f"a-{tag}"}, path)
    held = await capture_row(rt, order, first)
    response = {"error": error} if error is not None else {}  # the pool encodes jsonb
    await rt.db.pool.execute(
        "UPDATE event_correlations SET http_status = $2, response = $3::jsonb"
        " WHERE event_id = $1::uuid AND correlation_type = 'payment_capture'",
        held["event_id"],
        http_status,
        response,
    )

    out = (
        await deliver(rt, {**paid, "charge_id": second}, {"Idempotency-Key": f"b-{tag}"}, path=path)
    )["output"]
    if payable:
        assert (out["capture"], out["capture_refused"]) == ("succeeded", None)
        assert len(calls(httpserver, f"/v1/charges/{second}/capture")) == 1
        marker = await rt.db.pool.fetchval(
            "SELECT metadata->'replaces_payment' FROM events WHERE event_id = $1::uuid",
            out["event_id"],
        )
        assert marker == {
            "event_id": held["event_id"],
            "charge_id": first,
            "capture": "failed",
            "http_status": http_status,
        }
    else:
        assert out["capture"] == "refused"
        assert "whose capture has no known outcome" in out["capture_refused"]
        assert calls(httpserver, f"/v1/charges/{second}/capture") == []
        assert (
            await rt.db.pool.fetchval(
                "SELECT metadata ? 'replaces_payment' FROM events WHERE event_id = $1::uuid",
                out["event_id"],
            )
            is False
        )


def test_the_workflows_judge_refusals_by_the_statuses_the_lib_names(lib_path: Path) -> None:
    """load_snapshot (SQL) and order_capture.capture_declined (the run's error, the
    Slack note) must call the same answers a refusal."""
    from order_capture import DECLINED_HTTP_STATUSES

    for template in ("order_processing", "order_processing_agent"):
        flow = yaml.safe_load((ROOT / template / "workflow.yaml").read_text())
        query = flow["blocks"]["load_snapshot"]["query"]
        [listed] = re.findall(r"c\.http_status IN \(([0-9, ]+)\)", query)
        assert {int(n) for n in listed.split(",")} == DECLINED_HTTP_STATUSES, template


@pytest.mark.parametrize(
    ("status", "answer", "declined"),
    [
        (402, "card_declined", True),
        (400, "charge_expired_for_capture", True),
        (401, "Invalid API Key", True),
        (404, "No such charge", True),
        (400, "Charge ch_1 has already been captured.", False),
        (409, "idempotency_key_in_use", False),
        (429, "rate_limit", False),
        (408, None, False),
        (500, None, False),
        (None, "timed out", False),
    ],
)  # fmt: skip
def test_only_a_refusal_by_the_processor_is_declined(
    lib_path: Path, status: int | None, answer: str | None, declined: bool
) -> None:
    from order_capture import capture_declined, failed_capture_error
    from order_outbox import payment_note

    assert capture_declined(status, answer) is declined
    error = {"type": "HttpError", "message": answer} if answer else None
    text = failed_capture_error("o1", "ch_1", "e1", status, None, error)
    assert ("has no known outcome" in text) is not declined
    assert ("the charge is NOT captured" in text) is declined
    if answer is None or "already" not in answer:  # Slack's note has no answer's words
        note = payment_note(
            {"order_id": "o1", "charge_id": "ch_1", "capture": "failed", "http_status": status}
        )
        assert ("NO KNOWN OUTCOME" in note) is not declined


def test_a_payment_refused_against_an_unknown_outcome_is_never_told_to_fulfil(
    lib_path: Path,
) -> None:
    from order_capture import capture_refusal
    from order_events import fold
    from order_outbox import payment_note

    paid = fold(
        [
            {"event_id": "e1", "event_type": "order_created", "data": {}},
            {"event_id": "e2", "event_type": "payment_received", "data": {"charge_id": "ch_a"}},
        ]
    )
    assert capture_refusal(paid, "payment_received", "declined", "e2", 402) is None
    refused = capture_refusal(paid, "payment_received", "unknown", "e2", None)
    assert refused == (
        "the order already holds a payment (charge ch_a) whose capture has no known outcome"
        " (no answer): the processor may have captured it. Resending that payment's delivery"
        " asks again (Idempotency-Key capture-e2: the processor answers with the first outcome)"
    )
    note = payment_note(
        {"order_id": "o1", "charge_id": "ch_b", "capture": "refused", "refused": refused}
    )
    assert "Do not fulfil" in note and "fulfil on it" not in note and "Fulfil only" not in note
