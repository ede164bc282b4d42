"""A payment whose capture has no known outcome is not called "NOT captured" once the
order is cancelled (both variants).

A black-box round: the processor answered the capture 500 (the run failed: "has
no known outcome … the processor may have captured it … resend this delivery"),
then the order was cancelled, then the payment's delivery was resent as the error
advised. The repeat recorded a refusal over the `failed` row (`refused`, HTTP
status gone: `failed_correlations` no longer listed it) and Slack said "it was NOT
captured … release this charge", for a charge that may have been captured: the
customer charged for a cancelled order, and nobody told to refund it. A 2xx that
did not confirm the capture (`unconfirmed`) went the same way.

The repeat still sends nothing to the processor (the order takes no money now),
but keeps the row as it is, and fails naming what is to be done: check the
charge, refund it if it was captured.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from es_support import calls, deliver, lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@pytest.mark.parametrize("answer", [(500, {"error": {"message": "down"}}), (200, {"ok": 1})])
async def test_a_cancelled_orders_payment_of_unknown_capture_is_not_called_uncaptured(
    variant: tuple[Any, str], httpserver: HTTPServer, answer: tuple[int, Any]
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    charge_id = f"ch_unk_{tag}"
    asked: list[str] = []

    def processor(request: Request) -> Response:
        asked.append(request.headers.get("Idempotency-Key", ""))
        status, body = answer
        return Response(json.dumps(body), status=status, content_type="application/json")

    httpserver.expect_request(
        f"/v1/charges/{charge_id}/capture", method="POST"
    ).respond_with_handler(processor)
    order = f"unk-cancel-{tag}"
    created, paid = lifecycle(order)[:2]
    paid = {**paid, "charge_id": charge_id}
    await deliver(rt, created, path=path)
    first = await submit(rt, paid, {"Idempotency-Key": f"p-{tag}"}, path)
    assert first["status"] == "failed"
    assert "may" in first["error"]["message"]  # may have captured it / may have been taken
    asked_before = len(asked)
    row = await rt.db.pool.fetchrow(
        "SELECT c.status, c.http_status FROM event_correlations c JOIN events e USING (event_id)"
        " WHERE e.aggregate_id = $1 AND c.correlation_type = 'payment_capture'",
        order,
    )
    assert row["status"] in ("failed", "unconfirmed")

    cancel = {"event_type": "order_cancelled", "order_id": order, "reason": "changed mind"}
    await deliver(rt, cancel, path=path)
    again = await submit(rt, paid, {"Idempotency-Key": f"p-{tag}"}, path)

    assert len(asked) == asked_before  # nothing asked of the processor for a cancelled order
    kept = await rt.db.pool.fetchrow(
        "SELECT c.status, c.http_status FROM event_correlations c JOIN events e USING (event_id)"
        " WHERE e.aggregate_id = $1 AND c.correlation_type = 'payment_capture'",
        order,
    )
    assert dict(kept) == dict(row)  # still what the processor's answer left it
    assert again["status"] == "failed", again["output"]
    message = again["error"]["message"]
    assert "cancelled" in message and "may have" in message, message
    assert "refund" in message, message
    notes = [r.get_json()["text"] for r in calls(httpserver, "/slack/hook")]
    assert not any(order in n and "NOT captured" in n for n in notes), notes
