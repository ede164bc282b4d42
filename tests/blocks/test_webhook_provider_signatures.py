"""``signature: stripe | github | shopify | slack``: providers that sign in a way of
their own. Without it a Stripe, GitHub, Shopify or Slack delivery could not be
authenticated at all (``secret`` checked only ``X-Flowyard-Signature`` and Standard
Webhooks, so every real delivery was a 401), and a payment webhook had to take
forged ones. Each is checked as its provider documents it: a valid delivery starts
a run; a tampered, wrongly keyed, stale or unsigned one is a 401 and starts nothing.

``accept`` is called on a real runtime (real PostgreSQL run store), as the route does.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from workflow_problems import problems

from blocks._webhook_auth import provider_signature
from blocks.webhook import accept, flowyard_signature, standard_webhooks_signature

VARIABLE = "FLOWYARD_TEST_PROVIDER_SECRET"
#: Stripe's secrets start with whsec_ but are keys as text, not base64 to decode.
SECRET = "whsec_test_stripe_like_secret_0123456789"
BODY = json.dumps({"id": "evt_1", "type": "charge.succeeded"}).encode()

WORKFLOW = """
version: 1
name: NAME
blocks:
  hook:
    type: webhook
    path: test/NAME
    secret: <env.VARIABLE>
    signature: SCHEME
  echo:
    type: function
    code: |
      return {"type": input.hook.body.type}
edges: [hook -> echo]
""".replace("VARIABLE", VARIABLE)


def _signed(scheme: str, body: bytes, sent: int, secret: str = SECRET) -> dict[str, str]:
    """The headers the provider sends with ``body``, as its documentation shows them."""
    sig = provider_signature(scheme, secret, body, str(sent))
    headers = {"Content-Type": "application/json"}
    if scheme == "stripe":
        return {**headers, "Stripe-Signature": sig}
    if scheme == "github":
        return {**headers, "X-Hub-Signature-256": sig, "X-GitHub-Delivery": "d-1"}
    if scheme == "shopify":
        return {**headers, "X-Shopify-Hmac-Sha256": sig, "X-Shopify-Topic": "orders/paid"}
    return {**headers, "X-Slack-Signature": sig, "X-Slack-Request-Timestamp": str(sent)}


async def _runs_of(runtime: Any, workflow: str) -> int:
    sql = "SELECT count(*) FROM flowyard_runs WHERE workflow = $1"
    return int(await runtime.db.pool.fetchval(sql, workflow))


@pytest.mark.parametrize("scheme", ["stripe", "github", "shopify", "slack"])
async def test_a_provider_signed_delivery_is_accepted_and_a_forged_one_refused(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any, scheme: str
) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    wf = install_workflow(WORKFLOW.replace("SCHEME", scheme))
    path, now = f"test/{wf.name}", int(time.time())

    ok = await accept(blocks_runtime, path, "POST", _signed(scheme, BODY, now), {}, BODY)
    assert ok.status == 202, ok.body
    done = await blocks_runtime.wait(ok.body["execution_id"], timeout=30)
    assert done["status"] == "succeeded" and done["output"] == {"type": "charge.succeeded"}
    assert SECRET not in json.dumps(done)

    tampered = BODY.replace(b"evt_1", b"evt_2")
    refused = [
        await accept(blocks_runtime, path, "POST", _signed(scheme, BODY, now), {}, tampered),
        await accept(blocks_runtime, path, "POST", _signed(scheme, BODY, now, "other"), {}, BODY),
        await accept(blocks_runtime, path, "POST", {"Content-Type": "application/json"}, {}, BODY),
        # Only the block's scheme: the default one is no way around it.
        await accept(
            blocks_runtime,
            path,
            "POST",
            {"X-Flowyard-Signature": flowyard_signature(SECRET, BODY)},
            {},
            BODY,
        ),
    ]
    if scheme in ("stripe", "slack"):  # they sign a time: a captured delivery goes stale
        stale = _signed(scheme, BODY, now - 600)
        refused.append(await accept(blocks_runtime, path, "POST", stale, {}, BODY))
    for answer in refused:
        assert answer.status == 401 and answer.body["error"] == "invalid signature", answer.body
    assert await _runs_of(blocks_runtime, wf.name) == 1


async def test_a_stripe_timestamp_cannot_be_replayed_as_a_default_signature(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any
) -> None:
    # Stripe's MAC is over `<t>.<body>`: as an X-Flowyard-Signature over a form body of
    # those bytes it would be valid forever, were the scheme chosen by the headers.
    monkeypatch.setenv(VARIABLE, SECRET)
    wf = install_workflow(WORKFLOW.replace("SCHEME", "stripe"))
    now = str(int(time.time()) - 3600)
    mac = provider_signature("stripe", SECRET, BODY, now).rpartition("v1=")[2]
    form = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Flowyard-Signature": "sha256=" + mac,
    }
    answer = await accept(
        blocks_runtime, f"test/{wf.name}", "POST", form, {}, now.encode() + b"." + BODY
    )
    assert answer.status == 401
    assert await _runs_of(blocks_runtime, wf.name) == 0


def test_a_stripe_rotation_header_with_two_signatures_is_accepted() -> None:
    from blocks._webhook_auth import verify_provider

    now = int(time.time())
    header = provider_signature("stripe", SECRET, BODY, str(now))
    rolled = header.replace(",v1=", ",v1=" + "0" * 64 + ",v1=") + ",v0=abc"
    verify_provider("stripe", SECRET, {"stripe-signature": rolled}, BODY)


@pytest.mark.parametrize(
    ("scheme", "why"),
    [("paypal", "is not one of"), ("stripe\n    secret_header: X-Token", "not both")],
)
def test_a_signature_setting_that_cannot_work_is_a_validation_error(
    tmp_path: Path, scheme: str, why: str
) -> None:
    found = problems(tmp_path, WORKFLOW.replace("SCHEME", scheme))
    assert any(why in p and "'hook'" in p for p in found), found


def test_a_signature_needs_a_secret(tmp_path: Path) -> None:
    text = WORKFLOW.replace("    secret: <env.FLOWYARD_TEST_PROVIDER_SECRET>\n", "").replace(
        "SCHEME", "github"
    )
    found = problems(tmp_path, text)
    assert any("signature needs a secret" in p for p in found), found


DEFAULT = """
version: 1
name: NAME
blocks:
  hook:
    type: webhook
    path: test/NAME
    secret: <env.VARIABLE>
    EXTRA
  echo:
    type: function
    code: |
      return {"body": input.hook.body}
edges: [hook -> echo]
""".replace("VARIABLE", VARIABLE)


@pytest.mark.parametrize("extra", ["", "signature: standard_webhooks"])
async def test_a_standard_webhooks_mac_replayed_as_a_flowyard_signature(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any, extra: str
) -> None:
    # A secret that is not whsec_ keys both default schemes alike: the MAC of a
    # Standard Webhooks delivery over `<id>.<ts>.<body>`, captured, is an
    # X-Flowyard-Signature for a form body of those bytes — with no time to go stale.
    # `signature: standard_webhooks` takes that scheme alone; without it either is
    # taken (docs/blocks/webhook.md), as before.
    monkeypatch.setenv(VARIABLE, "plain-shared-secret")
    wf = install_workflow(DEFAULT.replace("EXTRA", extra))
    path, stamp = f"test/{wf.name}", str(int(time.time()) - 3600)
    captured = standard_webhooks_signature("plain-shared-secret", "msg_1", stamp, BODY)
    replayed = b"msg_1." + stamp.encode() + b"." + BODY
    form = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Flowyard-Signature": "sha256=" + base64.b64decode(captured[3:]).hex(),
    }
    answer = await accept(blocks_runtime, path, "POST", form, {}, replayed)
    if extra:
        assert answer.status == 401 and answer.body["error"] == "invalid signature"
        assert await _runs_of(blocks_runtime, wf.name) == 0
        now = str(int(time.time()))
        fresh = {
            "Content-Type": "application/json",
            "webhook-id": "msg_2",
            "webhook-timestamp": now,
            "webhook-signature": standard_webhooks_signature(
                "plain-shared-secret", "msg_2", now, BODY
            ),
        }
        ok = await accept(blocks_runtime, path, "POST", fresh, {}, BODY)
        assert ok.status == 202, ok.body
        await blocks_runtime.wait(ok.body["execution_id"], timeout=30)
    else:
        assert answer.status == 202  # the documented risk of taking either scheme
        await blocks_runtime.wait(answer.body["execution_id"], timeout=30)


async def test_signature_flowyard_takes_no_standard_webhooks_delivery(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv(VARIABLE, "plain-shared-secret")
    wf = install_workflow(DEFAULT.replace("EXTRA", "signature: flowyard"))
    path, now = f"test/{wf.name}", str(int(time.time()))
    standard = {
        "Content-Type": "application/json",
        "webhook-id": "msg_1",
        "webhook-timestamp": now,
        "webhook-signature": standard_webhooks_signature("plain-shared-secret", "msg_1", now, BODY),
    }
    refused = await accept(blocks_runtime, path, "POST", standard, {}, BODY)
    assert refused.status == 401 and "X-Flowyard-Signature" in refused.body["reason"]
    signed = {"X-Flowyard-Signature": flowyard_signature("plain-shared-secret", BODY)}
    ok = await accept(blocks_runtime, path, "POST", signed, {}, BODY)
    assert ok.status == 202, ok.body
    await blocks_runtime.wait(ok.body["execution_id"], timeout=30)


def _retry_headers(scheme: str, body: bytes, sent: int, delivery: str) -> dict[str, str]:
    """A provider's delivery of ``body``; its retry has the same ``delivery`` id."""
    headers = _signed(scheme, body, sent)
    if scheme == "github":
        headers["X-GitHub-Delivery"] = delivery
    elif scheme == "shopify":
        headers["X-Shopify-Webhook-Id"] = delivery
    return headers


@pytest.mark.parametrize("scheme", ["stripe", "github", "shopify", "slack"])
async def test_a_provider_retry_starts_nothing_without_an_idempotency_key(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any, scheme: str
) -> None:
    # None of them sends an Idempotency-Key: each retry (Shopify's 8, Slack's 3 after
    # a slow answer, Stripe's for days) ran the event again — a second fulfilment.
    monkeypatch.setenv(VARIABLE, SECRET)
    wf = install_workflow(WORKFLOW.replace("SCHEME", scheme))
    path, now = f"test/{wf.name}", int(time.time())
    event = {"id": "evt_1", "event_id": "Ev1", "type": "charge.succeeded"}
    body = json.dumps(event).encode()
    first = await accept(
        blocks_runtime, path, "POST", _retry_headers(scheme, body, now, "d-1"), {}, body
    )
    retry_headers = _retry_headers(scheme, body, now + 40, "d-1")
    retry_headers["X-Slack-Retry-Num"] = "1"
    retry = await accept(blocks_runtime, path, "POST", retry_headers, {}, body)
    assert first.status == retry.status == 202, (first.body, retry.body)
    assert retry.body.get("duplicate") is True
    assert retry.body["execution_id"] == first.body["execution_id"]

    other = json.dumps({**event, "id": "evt_2", "event_id": "Ev2"}).encode()
    new = await accept(
        blocks_runtime, path, "POST", _retry_headers(scheme, other, now, "d-2"), {}, other
    )
    assert new.status == 202 and "duplicate" not in new.body
    for answer in (first, new):
        await blocks_runtime.wait(answer.body["execution_id"], timeout=30)
    assert await _runs_of(blocks_runtime, wf.name) == 2


async def test_shopify_events_deliveries_sign_in_shopify_hmac_sha256(
    blocks_runtime: Any, install_workflow: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv(VARIABLE, SECRET)
    wf = install_workflow(WORKFLOW.replace("SCHEME", "shopify"))
    sig = provider_signature("shopify", SECRET, BODY)
    headers = {"Content-Type": "application/json", "Shopify-Hmac-Sha256": sig}
    ok = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, BODY)
    assert ok.status == 202, ok.body
    await blocks_runtime.wait(ok.body["execution_id"], timeout=30)
