"""The payment capture of Order Processing (both variants): what reaches the
processor, when, and what the run, Slack and ``event_correlations`` say about it.

Black-box report D1: a ``charge_id`` such as ``ch_victim/refund?amount=99999&x=``
was put into the capture URL as it was, so a webhook body could aim a POST
carrying the shop's secret key at any path of the processor's API."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import STRIPE_KEY, calls, charge, deliver, lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from templates import instantiate

PATHS = ("orders/events", "orders/agent-events")


@pytest.fixture
def both(es_runtime: Any) -> Any:
    """The runtime, with the agent variant next to Order Processing (these
    bodies fail before its model step, so no model is asked)."""
    if not (es_runtime.workflows_dir / "order_processing_agent.yaml").exists():
        instantiate("order_processing_agent", es_runtime.workflows_dir)
    return es_runtime


def processor_calls(httpserver: HTTPServer) -> list[str]:
    return [req.full_path for req, _ in httpserver.log if req.path.startswith("/v1/")]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "charge_id",
    [
        "ch_victim/refund?amount=99999&x=",
        "../../v1/refunds?charge=ch_x&",
        "ch_victim#",
        "ch victim",
        "ch_%2F",
        "",
        42,
        None,
    ],
)
async def test_a_charge_id_that_is_not_a_plain_id_is_refused_before_anything_is_sent(
    both: Any, httpserver: HTTPServer, path: str, charge_id: Any
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    paid = {**lifecycle(order)[1], "charge_id": charge_id}
    result = await submit(both, paid, path=path)
    assert result["status"] == "failed"
    assert result["error"]["block"] == "enrich"
    assert (
        "charge_id must be a processor id of letters, digits and underscores"
        in (result["error"]["message"])
    )
    assert "not appended" in result["error"]["message"]
    assert processor_calls(httpserver) == []
    stored = await both.db.pool.fetchval(
        "SELECT count(*) FROM events WHERE aggregate_id = $1", order
    )
    assert stored == 0


async def test_a_plain_charge_id_is_captured_at_its_own_path(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    for ev in (created, paid):
        assert (await submit(es_runtime, ev))["status"] == "succeeded"
    assert processor_calls(httpserver) == ["/v1/charges/ch_123/capture?"]


def answers(*replies: tuple[int, dict[str, Any]]) -> Any:
    """A processor stand-in answering each request with the next reply (the
    last one for ever), echoing the request's headers as some proxies do."""
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        status, body = replies[min(len(seen), len(replies) - 1)]
        seen.append(request)
        echoed = {**body, "request_headers": dict(request.headers)}
        return Response(json.dumps(echoed), status=status, content_type="application/json")

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


async def pay(rt: Any, order: str, charge: str) -> dict[str, Any]:
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created)
    return await deliver(rt, {**paid, "charge_id": charge})


def slack_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_texts(httpserver: HTTPServer, order: str) -> list[str]:
    texts = [req.get_json()["text"] for req in calls(httpserver, "/slack/hook")]
    return [t for t in texts if slack_text(order) in t]


async def correlation(rt: Any, event_id: str) -> Any:
    return await rt.db.pool.fetchrow(
        "SELECT status, http_status, response::text AS response FROM event_correlations"
        " WHERE event_id = $1",
        uuid.UUID(event_id),
    )


async def test_a_capture_answered_5xx_or_429_is_retried_until_it_succeeds(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """D5: with fail_on_status off, a 500 was a success and never retried."""
    stand_ins(httpserver)
    flaky = charge("ch_flaky")
    handler = answers((503, {"error": "busy"}), (429, {"error": "slow down"}), (200, flaky))
    httpserver.expect_request("/v1/charges/ch_flaky/capture").respond_with_handler(handler)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    result = await pay(es_runtime, order, "ch_flaky")
    assert len(handler.seen) == 3
    assert {r.headers["Idempotency-Key"] for r in handler.seen} == {
        f"capture-{result['output']['event_id']}"
    }
    assert result["output"]["capture"] == "succeeded"
    row = await correlation(es_runtime, result["output"]["event_id"])
    assert (row["status"], row["http_status"]) == ("succeeded", 200)
    assert STRIPE_KEY not in row["response"]  # N8: the echoed headers are not kept
    assert json.loads(row["response"]) == flaky
    assert [t.endswith("ready for fulfillment.") for t in slack_texts(httpserver, order)] == [True]


async def test_a_failed_capture_fails_the_run_and_is_said_to_slack_not_ready_for_fulfillment(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """D6: the run said status paid and Slack 'ready for fulfillment' for a
    charge that was never captured. The run now fails (so a resend of the
    delivery starts a new run that captures it: test_capture_recovery.py)."""
    stand_ins(httpserver)
    handler = answers((500, {"error": "processor down"}))
    httpserver.expect_request("/v1/charges/ch_down/capture").respond_with_handler(handler)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, created)
    result = await submit(es_runtime, {**paid, "charge_id": "ch_down"})
    assert len(handler.seen) == 4  # the first attempt and its 3 retries
    assert result["status"] == "failed" and result["error"]["block"] == "result"
    event_id = await es_runtime.db.pool.fetchval(
        "SELECT event_id::text FROM events WHERE aggregate_id = $1 AND aggregate_version = 2",
        order,
    )
    assert result["error"]["message"].startswith(
        f"order {order}: capturing charge ch_down of payment {event_id} has no known outcome"
        " (HTTP 500;"
    )
    # A 500 is no refusal: the processor may have captured it.
    assert "may have captured it" in result["error"]["message"]
    # The event is a fact: the order's state says paid.
    assert (
        await es_runtime.db.pool.fetchval(
            "SELECT state->>'status' FROM order_snapshots WHERE order_id = $1", order
        )
        == "paid"
    )
    row = await correlation(es_runtime, event_id)
    assert (row["status"], row["http_status"]) == ("failed", 500)
    assert STRIPE_KEY not in row["response"]  # N8
    [text] = slack_texts(httpserver, order)
    assert "FAILED" in text and "not ready for fulfillment" in text
    assert "ready for fulfillment." not in text.replace("not ready for fulfillment", "")


async def test_a_refusal_cut_inside_the_key_it_echoes_keeps_none_of_it(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """A processor answering 402 with 470 characters, then the Authorization header
    it got: the HTTP block quotes 500 characters of it, so the key was cut, and
    what was left of it no longer matched the key the correlation blanks (nor the
    run records' redaction)."""
    stand_ins(httpserver)
    httpserver.expect_request("/v1/charges/ch_echo/capture").respond_with_handler(
        lambda request: Response(
            "P" * 470 + " Authorization: " + request.headers["Authorization"], status=402
        )
    )
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, created)
    result = await submit(es_runtime, {**paid, "charge_id": "ch_echo"})
    assert result["status"] == "failed" and result["error"]["block"] == "result"
    event_id = await es_runtime.db.pool.fetchval(
        "SELECT event_id::text FROM events WHERE aggregate_id = $1 AND aggregate_version = 2",
        order,
    )
    row = await correlation(es_runtime, event_id)
    assert (row["status"], row["http_status"]) == ("failed", 402)
    error = json.loads(row["response"])["error"]
    assert error.endswith(" Authorization: Bearer ***"), error
    stored = await es_runtime.run_result(result["execution_id"])
    for text in (row["response"], json.dumps(result), json.dumps(stored)):
        assert not [n for n in range(4, len(STRIPE_KEY) + 1) if STRIPE_KEY[:n] in text], text


async def test_a_payment_for_a_cancelled_order_is_stored_but_not_captured(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """D7: the charge was captured, Slack announced fulfilment and the cancelled
    order became paid."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, created)
    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "customer request"}
    await deliver(es_runtime, cancel)
    result = await deliver(es_runtime, paid)
    out = result["output"]
    assert out["status"] == "cancelled" and out["version"] == 3
    assert out["capture"] == "refused" and out["capture_refused"] == "the order is cancelled"
    assert processor_calls(httpserver) == []
    [text] = slack_texts(httpserver, order)
    assert "NOT captured" in text and "ready for fulfillment" not in text
    state = await es_runtime.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert "payment" not in state
    assert state["anomalies"][-1]["reason"] == "payment_received while cancelled: not applied"
    replay = await es_runtime.execute(
        es_runtime.load_workflow("replay_events"), {"order_id": order}
    )
    assert replay["output"]["consistent"] is True


async def test_text_from_the_body_is_escaped_in_slack(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """N1: an order id '<!channel> <https://evil.example|refund portal>' pinged
    the channel and posted a link."""
    stand_ins(httpserver)
    order = f"<!channel> <https://evil.example|refund portal> {uuid.uuid4().hex[:8]}"
    await pay(es_runtime, order, "ch_123")
    [text] = slack_texts(httpserver, order)
    assert "<" not in text and "&lt;!channel&gt; &lt;https://evil.example|refund portal&gt;" in text


async def test_a_capture_that_failed_before_sending_says_what_failed(
    es_runtime: Any, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Black-box report: a capture step that failed before sending anything (a
    reference it could not read) was reported as "no answer from the processor".
    A port no URL can have passes enrich's check and fails in the HTTP block."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, created)
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:99999")
    result = await submit(es_runtime, paid)
    assert result["status"] == "failed" and result["error"]["block"] == "result"
    message = result["error"]["message"]
    # The HTTP block's own words: the request (its secret base URL redacted) and
    # what became of it.
    assert "has no known outcome (POST ***/v1/charges/ch_123/capture: " in message, message
    assert "no answer from the processor" not in message
    assert processor_calls(httpserver) == []


def test_the_reason_of_a_failed_capture_names_what_failed(lib_path: Path) -> None:
    from order_capture import failure_reason

    unread = {
        "type": "MissingReference",
        "message": "reference <enrich.stripe_api_base> has no field 'stripe_api_base' in <enrich>",
    }
    assert failure_reason(None, None, unread) == (
        "the capture was not sent: MissingReference: reference <enrich.stripe_api_base>"
        " has no field 'stripe_api_base' in <enrich>"
    )
    assert failure_reason(502, None, {"type": "HttpError", "message": "…"}) == "HTTP 502"
    unset = "the setting STRIPE_SECRET_KEY is not set, so no capture was sent"
    assert failure_reason(None, unset, None) == unset
    timed_out = {"type": "HttpError", "message": "POST http://h/v1/x: timed out (ReadTimeout)"}
    assert failure_reason(None, None, timed_out) == timed_out["message"]
    assert failure_reason(None, None, None) == "no answer from the processor"


@pytest.mark.parametrize(
    ("status", "body", "content_type", "why"),
    [
        (200, "<html>not json</html>", "text/html", "the answer is text, not a JSON charge object"),
        (200, "[1, 2, 3]", "application/json", "the answer is a JSON array, not a JSON charge object"),
        (200, "{}", "application/json", "the answer does not say captured: true"),
        (201, json.dumps({**charge("ch_odd"), "captured": False}), "application/json",
         "the answer does not say captured: true"),
        (200, json.dumps(charge("ch_odd", 100)), "application/json",
         "amount_captured is 100, not the payment's amount_cents 1250"),
        (200, json.dumps({"id": "ch_odd", "captured": True}), "application/json",
         "the answer gives no amount_captured to check against the payment's 1250"),
        (200, json.dumps(charge("ch_other")), "application/json",
         "the answer is about another charge"),
        (200, json.dumps({**charge("ch_odd"), "object": "list"}), "application/json",
         'the answer\'s "object" is not "charge"'),
    ],
)  # fmt: skip
async def test_a_2xx_that_does_not_confirm_the_capture_is_not_a_capture(
    es_runtime: Any,
    httpserver: HTTPServer,
    status: int,
    body: str,
    content_type: str,
    why: str,
) -> None:
    """Black-box report bb81 #3: a 200 with an HTML page (a proxy, a captive page, a
    wrong STRIPE_API_BASE) or a JSON list was recorded `succeeded` with
    `{"error": ""}`, and Slack said "ready for fulfillment"; an amount_captured of
    100 for a 1000-cent payment was accepted. Now such an answer is `unconfirmed`:
    the run fails saying why, and Slack is told to check the charge."""
    stand_ins(httpserver)
    httpserver.expect_request("/v1/charges/ch_odd/capture").respond_with_data(
        body, status=status, content_type=content_type
    )
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, created)
    result = await submit(es_runtime, {**paid, "charge_id": "ch_odd"})
    assert result["status"] == "failed" and result["error"]["block"] == "result"
    message = result["error"]["message"]
    assert f"is NOT confirmed (HTTP {status}, but {why}" in message, message
    event_id = await es_runtime.db.pool.fetchval(
        "SELECT event_id::text FROM events WHERE aggregate_id = $1 AND aggregate_version = 2",
        order,
    )
    row = await correlation(es_runtime, event_id)
    assert (row["status"], row["http_status"]) == ("unconfirmed", status)
    assert json.loads(row["response"])["error"] == why
    [text] = slack_texts(httpserver, order)
    assert "is NOT confirmed" in text and "Check the charge with the processor" in text
    assert "ready for fulfillment." not in text.replace("not ready for fulfillment", "")


async def test_an_unconfirmed_capture_keeps_the_order_from_another_charge_until_a_resend_confirms(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    """Money may have been taken: another charge is refused (not "already paid"),
    and a resend asks again with the same key; confirmed, the row says succeeded."""
    rt, path = variant
    stand_ins(httpserver)
    answers_given = ["<html>proxy</html>"]

    def processor(request: Request) -> Response:
        if answers_given:
            return Response(answers_given.pop(), content_type="text/html")
        return Response(json.dumps(charge("ch_unc")), content_type="application/json")

    httpserver.expect_request("/v1/charges/ch_unc/capture").respond_with_handler(processor)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)
    key = {"Idempotency-Key": f"pay-{order}"}
    first = await submit(rt, {**paid, "charge_id": "ch_unc"}, key, path)
    assert first["status"] == "failed" and "NOT confirmed" in first["error"]["message"]

    other = await deliver(rt, {**paid, "charge_id": "ch_123"}, path=path)
    assert other["output"]["capture"] == "refused"
    assert other["output"]["capture_refused"] == (
        "the order already holds a payment (charge ch_unc) whose capture is not confirmed"
    )
    assert calls(httpserver, "/v1/charges/ch_123/capture") == []

    again = await deliver(rt, {**paid, "charge_id": "ch_unc"}, key, path=path)
    assert again["output"]["duplicate"] is True and again["output"]["capture"] == "succeeded"
    row = await correlation(rt, again["output"]["event_id"])
    assert row["status"] == "succeeded"
    keys = {r.headers["Idempotency-Key"] for r in calls(httpserver, "/v1/charges/ch_unc/capture")}
    assert keys == {f"capture-{again['output']['event_id']}"}
