"""What names a webhook delivery and what may sign it: a signed ``webhook-id`` is not
overridden by an unsigned header, a secret that is set but empty signs nothing, and
a key too long to index is refused before a run exists.

``accept`` is called on a real runtime (real PostgreSQL run store), as the route does.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import pytest

from blocks.webhook import accept, flowyard_signature, standard_webhooks_signature

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = b'{"event_type": "payment_received", "order_id": "o-1", "amount": 10}'

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
      return {{"order": input.hook.body.order_id}}
edges:
  - hook -> echo
"""


def _signed(body: bytes, msg_id: str, secret: str = WHSEC, **extra: str) -> dict[str, str]:
    sent = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": sent,
        "webhook-signature": standard_webhooks_signature(secret, msg_id, sent, body),
        **extra,
    }


async def _runs(runtime: Any, workflow: str) -> list[str]:
    rows = await runtime.db.pool.fetch(
        "SELECT execution_id::text FROM flowyard_runs WHERE workflow = $1", workflow
    )
    return [r[0] for r in rows]


# -- 1: the signed webhook-id is the key ------------------------------------------------


async def test_a_captured_standard_webhooks_delivery_resent_with_a_new_key_starts_nothing(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra=f"secret: {WHSEC}"))
    path = f"test/{wf.name}"
    captured = _signed(BODY, "msg_capture")
    first = await accept(blocks_runtime, path, "POST", captured, {}, BODY)
    assert first.status == 202
    eid = first.body["execution_id"]
    # Replayed within the tolerance: same signed headers, plus an unsigned key.
    for key in ("replay-1", "replay-2"):
        again = await accept(
            blocks_runtime, path, "POST", {**captured, "Idempotency-Key": key}, {}, BODY
        )
        assert again.status == 202, again.body
        assert again.body["execution_id"] == eid and again.body["duplicate"] is True
    await blocks_runtime.wait(eid, timeout=30)
    assert await _runs(blocks_runtime, wf.name) == [eid]


async def test_a_signed_delivery_sent_with_an_idempotency_key_is_keyed_by_its_webhook_id(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WORKFLOW.format(extra=f"secret: {WHSEC}"))
    path = f"test/{wf.name}"
    first = await accept(
        blocks_runtime, path, "POST", _signed(BODY, "msg_k", **{"Idempotency-Key": "i-1"}), {}, BODY
    )
    retry = await accept(blocks_runtime, path, "POST", _signed(BODY, "msg_k"), {}, BODY)
    assert retry.body["execution_id"] == first.body["execution_id"]
    assert retry.body["duplicate"] is True
    stored = await blocks_runtime.db.pool.fetchval(
        "SELECT idempotency_key FROM flowyard_runs WHERE execution_id = $1::uuid",
        first.body["execution_id"],
    )
    assert stored == "msg_k"


async def test_without_a_standard_webhooks_signature_the_idempotency_key_header_still_counts(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    secret = "s3cret-for-tests"
    wf = install_workflow(WORKFLOW.format(extra=f"secret: {secret}"))
    path = f"test/{wf.name}"
    headers = {"Content-Type": "application/json"}
    headers["X-Flowyard-Signature"] = flowyard_signature(secret, BODY)
    a = await accept(blocks_runtime, path, "POST", {**headers, "Idempotency-Key": "a"}, {}, BODY)
    b = await accept(blocks_runtime, path, "POST", {**headers, "Idempotency-Key": "b"}, {}, BODY)
    # The body-only HMAC signs no key: two keys are two deliveries (docs/blocks/webhook.md).
    assert a.body["execution_id"] != b.body["execution_id"]
    for r in (a, b):
        await blocks_runtime.wait(r.body["execution_id"], timeout=30)


# -- 2: a secret set but empty is no secret: fail closed ---------------------------------


def _forgeries(body: bytes) -> list[dict[str, str]]:
    """Deliveries signed with an empty key, each scheme (and an empty whsec_)."""
    return [
        {"Content-Type": "application/json", "X-Flowyard-Signature": flowyard_signature("", body)},
        _signed(body, "msg_forged", secret=""),
        _signed(body, "msg_forged", secret="whsec_"),
    ]


@pytest.mark.parametrize(
    ("secret", "value"), [("<env.NAME>", ""), ("<env.NAME>", "  "), ("<env.NAME>", "whsec_")]
)
async def test_an_empty_secret_refuses_every_delivery_as_unconfigured(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any, secret: str, value: str | None
) -> None:
    variable = "FLOWYARD_TEST_EMPTY_HOOK_SECRET"
    if value is not None:
        monkeypatch.setenv(variable, value)
    wf = install_workflow(WORKFLOW.format(extra=f"secret: '{secret.replace('NAME', variable)}'"))
    for headers in _forgeries(BODY):
        response = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, BODY)
        assert response.status == 500, (headers, response.body)
        # The same answer as an unset variable, naming nothing of the configuration.
        assert response.body == {"error": "the webhook secret is not configured"}
    assert await _runs(blocks_runtime, wf.name) == []


# -- 3: a key too long for the index is kept by its hash ---------------------------------


async def _stored_key(runtime: Any, execution_id: str) -> str:
    sql = "SELECT idempotency_key FROM flowyard_runs WHERE execution_id = $1::uuid"
    return str(await runtime.db.pool.fetchval(sql, execution_id))


@pytest.mark.parametrize("where", ["header", "body"])
async def test_an_idempotency_key_of_kilobytes_deduplicates_like_a_short_one(
    blocks_runtime: Any, install_workflow: Any, where: str
) -> None:
    extra = "idempotency_key: <webhook.body.event_id>" if where == "body" else ""
    wf = install_workflow(WORKFLOW.format(extra=extra))
    path = f"test/{wf.name}"

    async def deliver(key: str) -> Any:
        body = json.dumps({"order_id": "o-1", "event_id": key}).encode()
        headers = {"Content-Type": "application/json"}
        if where == "header":
            headers["Idempotency-Key"] = key
        return await accept(blocks_runtime, path, "POST", headers, {}, body)

    # Random text (PostgreSQL compresses a repetitive key below its index limit), ~6 KB,
    # past the ~2.7 KB the index takes: this was an unhandled 500.
    long_key = secrets.token_urlsafe(4500)
    other_key = long_key[:-1] + ("a" if long_key[-1] != "a" else "b")
    first = await deliver(long_key)
    assert first.status == 202, first.body
    again = await deliver(long_key)
    assert again.status == 202 and again.body["duplicate"] is True
    assert again.body["execution_id"] == first.body["execution_id"]
    other = await deliver(other_key)
    assert other.status == 202 and "duplicate" not in other.body
    stored = await _stored_key(blocks_runtime, first.body["execution_id"])
    assert stored.startswith("sha256:") and len(stored) == 71
    # Up to 255 characters a key is kept as it is.
    short = await deliver("ü" * 255)
    assert await _stored_key(blocks_runtime, short.body["execution_id"]) == "ü" * 255
    for r in (first, other, short):
        done = await blocks_runtime.wait(r.body["execution_id"], timeout=30)
        assert done["status"] == "succeeded", done["error"]
    assert len(await _runs(blocks_runtime, wf.name)) == 3


async def test_a_concurrency_key_of_kilobytes_is_queued(
    blocks_workflows: Any,
    install_workflow: Any,
    workspace: Any,
    database_url: str,
    monkeypatch: Any,
) -> None:
    """A server that only queues (serve --no-worker) defers a procrastinate job whose
    lock, the concurrency key, procrastinate indexes: a long key failed that INSERT."""
    from engine.runtime import Runtime

    queue = f"test-keys-{secrets.token_hex(4)}"  # no worker of the session takes it
    monkeypatch.setenv("FLOWYARD_QUEUE", queue)
    wf = install_workflow(WORKFLOW.format(extra="concurrency_key: <webhook.body.order_id>"))
    server = Runtime(
        blocks_workflows, database_url, workspace, resume=False, queue=True, local=False
    )
    await server.start()
    try:
        body = json.dumps({"order_id": secrets.token_urlsafe(4500)}).encode()
        headers = {"Content-Type": "application/json"}
        response = await accept(server, f"test/{wf.name}", "POST", headers, {}, body)
        assert response.status == 202, response.body
        lock = await server.db.pool.fetchval(
            "SELECT lock FROM procrastinate_jobs WHERE queue_name = $1", queue
        )
        assert lock.startswith("sha256:") and len(lock) == 71  # one key for the database
    finally:
        await server.db.pool.execute("DELETE FROM procrastinate_jobs WHERE queue_name = $1", queue)
        await server.close()


# -- keys with text around a reference ---------------------------------------------------


async def _stored_keys(runtime: Any, execution_id: str) -> tuple[str | None, str | None]:
    sql = "SELECT idempotency_key, concurrency_key FROM flowyard_runs WHERE execution_id = $1::uuid"
    row = await runtime.db.pool.fetchrow(sql, execution_id)
    return row["idempotency_key"], row["concurrency_key"]


async def test_a_key_may_have_text_around_its_reference(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    """`order:<webhook.body.order_id>` (a key no other kind of thing uses, now that a
    concurrency key is one for the database): a number is its digits, as a lone
    reference reads it, so 42, 42.0 and "42" are one key; a reference that finds
    nothing gives no key rather than the text around it (`evt:` would have made every
    such delivery one, and its repeats duplicates)."""
    keys = (
        "concurrency_key: order:<webhook.body.order_id?>\n"
        "    idempotency_key: evt:<webhook.body.event_id?>"
    )
    wf = install_workflow(WORKFLOW.format(extra=keys))

    async def deliver(body: dict[str, Any]) -> tuple[str | None, str | None]:
        headers = {"Content-Type": "application/json"}
        raw = json.dumps(body).encode()
        response = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, raw)
        assert response.status == 202, response.body
        assert "duplicate" not in response.body
        eid = response.body["execution_id"]
        await blocks_runtime.wait(eid, timeout=30)
        return await _stored_keys(blocks_runtime, eid)

    tag = secrets.token_hex(4)
    assert await deliver({"order_id": 42, "event_id": f"{tag}-1"}) == (f"evt:{tag}-1", "order:42")
    assert await deliver({"order_id": 42.0, "event_id": f"{tag}-2"}) == (f"evt:{tag}-2", "order:42")
    assert await deliver({"order_id": "42", "event_id": f"{tag}-3"}) == (f"evt:{tag}-3", "order:42")
    assert await deliver({"order_id": ""}) == (None, None)
    assert await deliver({"order_id": None}) == (None, None)
    assert await deliver({}) == (None, None)  # twice: not a duplicate of the first
    assert await deliver({}) == (None, None)


def test_a_key_without_a_reference_is_a_problem(install_workflow: Any) -> None:
    from engine.model import WorkflowError

    with pytest.raises(WorkflowError, match="must hold a reference into the request"):
        install_workflow(WORKFLOW.format(extra="concurrency_key: order"))


@pytest.mark.parametrize(
    "key, names",
    [
        ("<f.x>", "<f.x>"),  # a block that runs after the key is taken
        ("order:<nosuch.x>", "<nosuch.x>"),  # a misspelled block id
        ("<hook.bodyy.order_id>", "<hook.bodyy.order_id>"),  # not a field of the request
        ("<hook>", "<hook>"),
        ("<input.order_id>", "<input.order_id>"),
    ],
)
@pytest.mark.parametrize("field", ["idempotency_key", "concurrency_key"])
def test_a_key_reading_anything_but_the_request_is_a_problem(
    install_workflow: Any, key: str, names: str, field: str
) -> None:
    """Either key is taken from the request before the run exists: a reference to a
    later block or a typo would otherwise pass validation and then refuse every
    delivery (idempotency_key) or silently stop ordering (concurrency_key)."""
    from engine.model import WorkflowError

    with pytest.raises(WorkflowError) as refused:
        install_workflow(WORKFLOW.format(extra=f'{field}: "{key}"'))
    assert f"{names} is not read from the request" in str(refused.value)
    assert field in str(refused.value)


def test_keys_may_read_the_request_by_any_of_its_names(install_workflow: Any) -> None:
    install_workflow(
        WORKFLOW.format(
            extra='idempotency_key: "<input.webhook.headers.x_id>"\n'
            '    concurrency_key: "<workflow.name>:<hook.body.a>-<webhook.query.b>-<input.workflow.name>"'
        )
    )


def test_a_key_may_name_the_workflow() -> None:
    """`<workflow.name>` is known before any block runs: a key of its own per workflow,
    now that a key is one for the database. It validated, then failed every delivery."""
    from blocks._delivery_keys import request_value

    payload = {"body": {"a": 1}}
    assert request_value("<workflow.name>:<webhook.body.a>", "hook", payload, "wf") == "wf:1"
