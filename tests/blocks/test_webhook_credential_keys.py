"""A delivery's keys read from a credential header: Twilio sends its idempotency id in
``I-Twilio-Idempotency-Token``, a name the run records keep as ``[redacted]``. The
keys are read from the request as it came, so each event is its own delivery, and
such a key is kept only as its hash — in the run's row, its 409 and the log.

``accept`` is called on a real runtime (real PostgreSQL run store), as the route does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any

import pytest

from blocks.webhook import accept

WORKFLOW = """
version: 1
name: NAME
blocks:
  webhook:
    type: webhook
    path: twilio/NAME
    idempotency_key: <webhook.headers.i_twilio_idempotency_token>
    concurrency_key: sms:<input.webhook.headers.i_twilio_idempotency_token>
  f:
    type: function
    code: |
      return {"sid": input.webhook.body.MessageSid,
              "token": input.webhook.headers.i_twilio_idempotency_token}
edges: [webhook -> f]
"""

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _sha256(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


async def _row(runtime: Any, execution_id: str) -> Any:
    sql = (
        "SELECT idempotency_key, concurrency_key, input::text AS input"
        " FROM flowyard_runs WHERE execution_id = $1::uuid"
    )
    return await runtime.db.pool.fetchrow(sql, execution_id)


async def test_each_twilio_token_is_its_own_delivery_and_is_kept_only_hashed(
    blocks_runtime: Any, install_workflow: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wf = install_workflow(WORKFLOW)
    path = f"twilio/{wf.name}"
    tokens = [f"evt-{n}-{secrets.token_hex(8)}" for n in range(3)]

    async def deliver(token: str, sid: str) -> Any:
        headers = {**FORM, "I-Twilio-Idempotency-Token": token}
        return await accept(blocks_runtime, path, "POST", headers, {}, f"MessageSid={sid}".encode())

    answers = [await deliver(token, f"SM00{n}") for n, token in enumerate(tokens)]
    # Three tokens, three events: each was one key ('[redacted]'), the 2nd and 3rd a 409.
    assert [a.status for a in answers] == [202, 202, 202], [a.body for a in answers]
    runs = [a.body["execution_id"] for a in answers]
    assert len(set(runs)) == 3 and not any("duplicate" in a.body for a in answers)

    # The same token again is the same delivery: nothing starts.
    again = await deliver(tokens[0], "SM000")
    assert again.status == 202 and again.body["duplicate"] is True
    assert again.body["execution_id"] == runs[0]
    # Under another body it is a 409, whose message does not quote the token.
    clash = await deliver(tokens[0], "SM999")
    assert clash.status == 409 and clash.body["execution_id"] == runs[0]
    assert tokens[0] not in json.dumps(clash.body)
    assert _sha256(tokens[0]) in clash.body["error"]

    for n, (token, eid) in enumerate(zip(tokens, runs, strict=True)):
        done = await blocks_runtime.wait(eid, timeout=30)
        assert done["status"] == "succeeded", done["error"]
        # The run itself still sees the header redacted, as before.
        assert done["output"] == {"sid": f"SM00{n}", "token": "[redacted]"}
        row = await _row(blocks_runtime, eid)
        assert row["idempotency_key"] == _sha256(token)
        assert row["concurrency_key"] == _sha256(f"sms:{token}")
        assert token not in row["input"]
    for token in tokens:
        assert token not in caplog.text


async def test_a_key_reading_all_the_headers_is_hashed(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    """`<webhook.headers>` holds every credential header: its key is hashed too."""
    wf = install_workflow(
        WORKFLOW.replace(
            "idempotency_key: <webhook.headers.i_twilio_idempotency_token>",
            "idempotency_key: <webhook.headers>",
        )
    )
    token = f"evt-{secrets.token_hex(8)}"
    headers = {**FORM, "I-Twilio-Idempotency-Token": token}
    answer = await accept(blocks_runtime, f"twilio/{wf.name}", "POST", headers, {}, b"MessageSid=S")
    assert answer.status == 202, answer.body
    await blocks_runtime.wait(answer.body["execution_id"], timeout=30)
    row = await _row(blocks_runtime, answer.body["execution_id"])
    assert row["idempotency_key"].startswith("sha256:") and token not in row["idempotency_key"]


async def test_a_key_reading_an_ordinary_header_is_kept_as_it_is(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(
        WORKFLOW.replace(
            "i_twilio_idempotency_token>\n    concurrency", "x_request_id>\n    concurrency"
        )
    )
    request_id = f"req-{secrets.token_hex(8)}"
    headers = {**FORM, "X-Request-Id": request_id, "I-Twilio-Idempotency-Token": "t"}
    answer = await accept(blocks_runtime, f"twilio/{wf.name}", "POST", headers, {}, b"MessageSid=S")
    assert answer.status == 202, answer.body
    await blocks_runtime.wait(answer.body["execution_id"], timeout=30)
    row = await _row(blocks_runtime, answer.body["execution_id"])
    assert row["idempotency_key"] == request_id
