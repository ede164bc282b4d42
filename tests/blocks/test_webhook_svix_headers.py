"""Svix, the Standard Webhooks sender most providers use (Clerk, Resend, OpenAI…),
sends its headers branded as ``svix-id``, ``svix-timestamp`` and ``svix-signature``
(``webhook-*`` only for white-labelled accounts); the signature is the same scheme.
Its own libraries read either. A delivery signed that way is accepted, refused when
tampered or replayed, and a retry of it (same ``svix-id``, new timestamp and
signature) starts nothing — also on a webhook without a secret.

``accept`` is called on a real runtime (real PostgreSQL run store), as the route does.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from blocks.webhook import accept, standard_webhooks_signature

WHSEC = "whsec_" + base64.b64encode(b"svix-branded-secret-0123456789ab").decode()
BODY = json.dumps({"type": "invoice.paid", "data": {"id": "in_1"}}).encode()

WORKFLOW = """
version: 1
name: NAME
blocks:
  hook:
    type: webhook
    path: test/NAME
    {extra}
  echo:
    type: function
    code: |
      return {{"type": input.hook.body.type}}
edges: [hook -> echo]
"""


def _svix(msg_id: str, sent: int, body: bytes = BODY, secret: str = WHSEC) -> dict[str, str]:
    """The headers Svix sends with a message, as its documentation shows them."""
    return {
        "Content-Type": "application/json",
        "svix-id": msg_id,
        "svix-timestamp": str(sent),
        "svix-signature": standard_webhooks_signature(secret, msg_id, str(sent), body),
    }


async def _runs_of(runtime: Any, workflow: str) -> int:
    sql = "SELECT count(*) FROM flowyard_runs WHERE workflow = $1"
    return int(await runtime.db.pool.fetchval(sql, workflow))


async def test_a_svix_delivery_is_verified_and_its_retry_is_a_repeat(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra=f"secret: {WHSEC}"))
    path, now = f"test/{wf.name}", int(time.time())

    first = await accept(blocks_runtime, path, "POST", _svix("msg_1", now), {}, BODY)
    assert first.status == 202, first.body
    done = await blocks_runtime.wait(first.body["execution_id"], timeout=30)
    assert done["status"] == "succeeded" and done["output"] == {"type": "invoice.paid"}

    # Svix's retry: the same svix-id, signed anew with a later timestamp.
    retry = await accept(blocks_runtime, path, "POST", _svix("msg_1", now + 5), {}, BODY)
    assert retry.status == 202 and retry.body.get("duplicate") is True
    assert retry.body["execution_id"] == first.body["execution_id"]

    tampered = _svix("msg_2", now)
    forged = await accept(blocks_runtime, path, "POST", tampered, {}, BODY.replace(b"1", b"2"))
    assert forged.status == 401 and forged.body["error"] == "invalid signature"
    old = await accept(blocks_runtime, path, "POST", _svix("msg_3", now - 600), {}, BODY)
    assert old.status == 401 and "tolerance" in old.body["reason"]
    wrong_key = _svix("msg_4", now, secret="whsec_" + base64.b64encode(b"x" * 32).decode())
    other = await accept(blocks_runtime, path, "POST", wrong_key, {}, BODY)
    assert other.status == 401
    assert await _runs_of(blocks_runtime, wf.name) == 1


async def test_a_svix_retry_to_an_unsigned_webhook_starts_nothing(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra=""))
    path, now = f"test/{wf.name}", int(time.time())
    first = await accept(blocks_runtime, path, "POST", _svix("msg_u", now), {}, BODY)
    retry = await accept(blocks_runtime, path, "POST", _svix("msg_u", now + 60), {}, BODY)
    assert first.status == retry.status == 202
    assert retry.body.get("duplicate") is True
    assert retry.body["execution_id"] == first.body["execution_id"]
    await blocks_runtime.wait(first.body["execution_id"], timeout=30)
    assert await _runs_of(blocks_runtime, wf.name) == 1
