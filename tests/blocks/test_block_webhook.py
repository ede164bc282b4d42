"""Webhook trigger: signatures, parsing, idempotent delivery and sync responses.

``accept`` is what the Flask route calls; here it is called directly on a real
runtime (real PostgreSQL run store), as the route would after reading the request.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import asyncpg
import pytest

from blocks.webhook import (
    SignatureError,
    accept,
    flowyard_signature,
    standard_webhooks_signature,
    verify_signature,
)
from engine.database import server_unreachable

SECRET = "s3cret-for-tests"
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = b'{"event_type": "order_created", "order_id": "o-1", "event_id": "e-1"}'


# -- signatures, no runtime needed ---------------------------------------------------


def test_flowyard_signature_valid_and_invalid() -> None:
    verify_signature(SECRET, {"x-flowyard-signature": flowyard_signature(SECRET, BODY)}, BODY)
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, {"x-flowyard-signature": flowyard_signature("other", BODY)}, BODY)
    with pytest.raises(SignatureError, match="does not match"):  # body changed after signing
        verify_signature(
            SECRET, {"x-flowyard-signature": flowyard_signature(SECRET, BODY)}, BODY + b" "
        )
    with pytest.raises(SignatureError, match="missing"):
        verify_signature(SECRET, {}, BODY)


def _standard_headers(secret: str, body: bytes, sent: int, msg_id: str = "msg_1") -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(sent),
        "webhook-signature": standard_webhooks_signature(secret, msg_id, str(sent), body),
    }


def test_standard_webhooks_valid_invalid_and_replayed() -> None:
    now = int(time.time())
    verify_signature(WHSEC, _standard_headers(WHSEC, BODY, now), BODY)
    # Key rotation: any one of several space-separated signatures may match.
    rotated = _standard_headers(WHSEC, BODY, now)
    rotated["webhook-signature"] = "v1,AAAA " + rotated["webhook-signature"]
    verify_signature(WHSEC, rotated, BODY)
    other = "whsec_" + base64.b64encode(b"another key entirely, 32 bytes!!").decode()
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(WHSEC, _standard_headers(other, BODY, now), BODY)
    with pytest.raises(SignatureError, match="tolerance"):  # a captured delivery replayed later
        verify_signature(WHSEC, _standard_headers(WHSEC, BODY, now - 6 * 60), BODY)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(WHSEC, _standard_headers(WHSEC, BODY, now + 6 * 60), BODY)
    verify_signature(WHSEC, _standard_headers(WHSEC, BODY, now - 4 * 60), BODY)


def _stamped(stamp: str) -> dict[str, str]:
    """Headers signed over ``stamp`` exactly as written (the signature covers its text)."""
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": standard_webhooks_signature(WHSEC, "msg_1", stamp, BODY),
    }


@pytest.mark.parametrize(
    "written",
    [
        pytest.param(lambda now: f"{now[:4]}_{now[4:7]}_{now[7:]}", id="1764_000_000"),
        pytest.param(lambda now: f" {now} ", id="blanks"),
        pytest.param(lambda now: f"+{now}", id="plus"),
        pytest.param(
            lambda now: now.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
            id="arabic-indic-digits",
        ),
        pytest.param(lambda now: f"{now}.0", id="decimal"),
        pytest.param(lambda now: "", id="empty"),
        # Digits past Python's int() limit (4300): the route answered 500, not 401.
        pytest.param(lambda now: "9" * 5000, id="5000-digits"),
        pytest.param(lambda now: "0" * 5000 + now, id="5000-leading-zeros"),
    ],
)
def test_a_timestamp_is_ascii_digits_only(written: Any) -> None:
    """A Unix time is its digits: Python's int() also took `_`, blanks, `+` and other
    scripts' digits, so one time had many signed spellings."""
    stamp = written(str(int(time.time())))
    with pytest.raises(SignatureError, match="webhook-timestamp"):
        verify_signature(WHSEC, _stamped(stamp), BODY)
    verify_signature(WHSEC, _stamped(str(int(time.time()))), BODY)


def test_standard_webhooks_matches_the_reference_vector() -> None:
    # From the Standard Webhooks specification's example.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    sig = standard_webhooks_signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


async def test_only_an_unreachable_database_makes_a_delivery_unavailable(
    database_url: str,
) -> None:
    # A 503 asks the sender to retry: right for an outage, wrong for a bug or a
    # refused statement, which must stay 500s (HTTP test: tests/ui/test_server_database_down.py).
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    await pool.close()
    with pytest.raises(asyncpg.InterfaceError) as closed:
        await pool.fetchval("SELECT 1")
    outages = [
        closed.value,  # asyncpg's own wording for a closed pool
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionError("unexpected connection_lost() call"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection (administrator command)"),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    ]
    assert [e for e in outages if not server_unreachable(e)] == []
    bugs = [
        ValueError("bad"),
        KeyError("x"),
        asyncpg.UniqueViolationError("duplicate key"),
        asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    ]
    assert [e for e in bugs if server_unreachable(e)] == []


# -- delivery through accept() -------------------------------------------------------

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
      return {{"order": input.hook.body.order_id, "ua": input.hook.headers.user_agent,
              "q": input.hook.query, "method": input.hook.method}}
edges:
  - hook -> echo
"""


def _headers(**extra: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "pytest-agent", **extra}


async def _runs_of(runtime: Any, workflow: str) -> int:
    return int(
        await runtime.db.pool.fetchval(
            "SELECT count(*) FROM flowyard_runs WHERE workflow = $1", workflow
        )
    )


async def test_unknown_path_is_404(blocks_runtime: Any) -> None:
    response = await accept(blocks_runtime, "no/such/path", "POST", _headers(), {}, BODY)
    assert response.status == 404


async def test_accepted_delivery_runs_with_the_payload(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra=""))
    response = await accept(
        blocks_runtime, f"/test/{wf.name}/", "POST", _headers(), {"page": "2"}, BODY
    )
    assert response.status == 202
    eid = response.body["execution_id"]
    assert response.body["status_url"] == f"/api/runs/{eid}"
    result = await blocks_runtime.wait(eid, timeout=30)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {
        "order": "o-1",
        "ua": "pytest-agent",
        "q": {"page": "2"},
        "method": "POST",
    }
    payload = result["blocks"]["hook"]["output"]
    assert payload["path"] == f"test/{wf.name}" and payload["received_at"]
    assert payload["headers"]["content_type"] == "application/json"


async def test_bad_json_is_400(blocks_runtime: Any, install_workflow: Any) -> None:
    wf = install_workflow(WORKFLOW.format(extra=""))
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", _headers(), {}, b"{not json")
    assert response.status == 400
    assert await _runs_of(blocks_runtime, wf.name) == 0


async def test_signed_workflow_refuses_bad_signatures(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("FLOWYARD_TEST_HOOK_SECRET", SECRET)
    wf = install_workflow(WORKFLOW.format(extra="secret: <env.FLOWYARD_TEST_HOOK_SECRET>"))
    path = f"test/{wf.name}"
    bad = await accept(
        blocks_runtime, path, "POST", _headers(**{"X-Flowyard-Signature": "sha256=00"}), {}, BODY
    )
    assert bad.status == 401 and "does not match" in bad.body["reason"]
    missing = await accept(blocks_runtime, path, "POST", _headers(), {}, BODY)
    assert missing.status == 401
    assert await _runs_of(blocks_runtime, wf.name) == 0
    good = await accept(
        blocks_runtime,
        path,
        "POST",
        _headers(**{"X-Flowyard-Signature": flowyard_signature(SECRET, BODY)}),
        {},
        BODY,
    )
    assert good.status == 202
    result = await blocks_runtime.wait(good.body["execution_id"], timeout=30)
    assert result["status"] == "succeeded"
    assert SECRET not in json.dumps(result)


async def test_standard_webhooks_delivery_and_replay(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra=f"secret: {WHSEC}"))
    path = f"test/{wf.name}"
    now = int(time.time())
    ok = await accept(
        blocks_runtime,
        path,
        "POST",
        _headers(**_standard_headers(WHSEC, BODY, now, "msg_a")),
        {},
        BODY,
    )
    assert ok.status == 202
    replayed = await accept(
        blocks_runtime,
        path,
        "POST",
        _headers(**_standard_headers(WHSEC, BODY, now - 600, "msg_b")),
        {},
        BODY,
    )
    assert replayed.status == 401 and "tolerance" in replayed.body["reason"]
    # The same message delivered again (a provider retry): same run, nothing new starts.
    again = await accept(
        blocks_runtime,
        path,
        "POST",
        _headers(**_standard_headers(WHSEC, BODY, now, "msg_a")),
        {},
        BODY,
    )
    assert again.status == 202 and again.body["execution_id"] == ok.body["execution_id"]
    await blocks_runtime.wait(ok.body["execution_id"], timeout=30)
    assert await _runs_of(blocks_runtime, wf.name) == 1


async def test_duplicate_delivery_by_idempotency_key_header(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra=""))
    path = f"test/{wf.name}"
    first = await accept(
        blocks_runtime, path, "POST", _headers(**{"Idempotency-Key": "k-1"}), {}, BODY
    )
    second = await accept(
        blocks_runtime, path, "POST", _headers(**{"Idempotency-Key": "k-1"}), {}, BODY
    )
    other = await accept(
        blocks_runtime, path, "POST", _headers(**{"Idempotency-Key": "k-2"}), {}, BODY
    )
    assert first.status == second.status == 202
    assert second.body["execution_id"] == first.body["execution_id"]
    assert other.body["execution_id"] != first.body["execution_id"]
    for r in (first, other):
        await blocks_runtime.wait(r.body["execution_id"], timeout=30)
    assert await _runs_of(blocks_runtime, wf.name) == 2


@pytest.mark.parametrize("key", ["<input.webhook.body.event_id>", "<hook.body.event_id>"])
async def test_duplicate_delivery_by_body_reference(
    blocks_runtime: Any, install_workflow: Any, key: str
) -> None:
    wf = install_workflow(WORKFLOW.format(extra=f"idempotency_key: '{key}'"))
    path = f"test/{wf.name}"
    ids = set()
    for _ in range(3):
        response = await accept(blocks_runtime, path, "POST", _headers(), {}, BODY)
        ids.add(response.body["execution_id"])
    assert len(ids) == 1
    new_event = BODY.replace(b"e-1", b"e-2")
    ids.add(
        (await accept(blocks_runtime, path, "POST", _headers(), {}, new_event)).body["execution_id"]
    )
    assert len(ids) == 2
    for eid in ids:
        await blocks_runtime.wait(eid, timeout=30)
    assert await _runs_of(blocks_runtime, wf.name) == 2


async def test_sync_response_returns_the_output(blocks_runtime: Any, install_workflow: Any) -> None:
    wf = install_workflow(WORKFLOW.format(extra="respond: sync"))
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", _headers(), {}, BODY)
    assert response.status == 200
    assert response.body["order"] == "o-1"


async def test_sync_response_of_a_failed_run_is_500(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(
        """
        version: 1
        name: NAME
        blocks:
          hook: {type: webhook, path: test/NAME, respond: sync}
          fail:
            type: function
            code: |
              raise RuntimeError("no stock")
        edges: [hook -> fail]
        """
    )
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", _headers(), {}, BODY)
    assert response.status == 500
    assert "no stock" in response.body["error"]["message"]


async def test_credentials_in_headers_are_not_recorded(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra="respond: sync"))
    headers = _headers(
        Authorization="Bearer do-not-store-me",
        Cookie="session=do-not-store-me",
        **{"X-Api-Key": "do-not-store-me", "Api-Key": "do-not-store-me"},
    )
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, BODY)
    assert response.status == 200
    stored = await blocks_runtime.db.pool.fetchval(
        "SELECT input::text FROM flowyard_runs WHERE workflow = $1", wf.name
    )
    assert "do-not-store-me" not in stored


async def test_a_sync_delivery_past_its_wait_is_504_naming_its_run(
    blocks_runtime: Any, install_workflow: Any, tmp_path: Any
) -> None:
    gate = tmp_path / "gate"
    wf = install_workflow(
        f"""
        version: 1
        name: NAME
        blocks:
          hook: {{type: webhook, path: test/NAME, respond: sync}}
          slow:
            type: function
            code: |
              import os, time
              while not os.path.exists({str(gate)!r}):
                  time.sleep(0.05)
              return {{"done": True}}
        edges: [hook -> slow]
        """
    )
    # The wait is 300 s in service; the run outlasts a short one here (it waits for
    # the gate), so the answer is the 504 whatever the machine's speed.
    response = await accept(
        blocks_runtime, f"test/{wf.name}", "POST", _headers(), {}, BODY, sync_timeout=0.2
    )
    assert response.status == 504, response.body
    eid = response.body["execution_id"]
    assert response.body == {
        "error": "the run did not finish in time",
        "reason": "the run was accepted and goes on: follow it at status_url",
        "execution_id": eid,
        "status_url": f"/api/runs/{eid}",
    }
    gate.write_text("open")  # the run was accepted and goes on
    done = await blocks_runtime.wait(eid, timeout=30)
    assert done["status"] == "succeeded" and done["output"] == {"done": True}
