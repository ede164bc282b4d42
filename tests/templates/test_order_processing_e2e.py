"""Order Processing end to end: deliveries through the webhook trigger's accept()
path, the real engine and PostgreSQL, stand-ins for Stripe, the customer system
and Slack (pytest-httpserver) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest
from es_support import STRIPE_KEY, Mailbox, calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

from blocks.webhook import accept


async def test_full_lifecycle(es_runtime: Any, httpserver: HTTPServer, mailbox: Mailbox) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    before_mail = len(mailbox.messages)
    results = [await deliver(es_runtime, ev) for ev in lifecycle(order)]
    assert [r["output"]["version"] for r in results] == [1, 2, 3, 4]
    assert [r["output"]["status"] for r in results] == ["pending", "paid", "shipped", "delivered"]

    pool = es_runtime.db.pool
    snap = await pool.fetchrow(
        "SELECT version, state FROM order_snapshots WHERE order_id = $1", order
    )
    assert snap["version"] == 4 and snap["state"]["status"] == "delivered"
    assert snap["state"]["payment"]["charge_id"] == "ch_123"
    corr = await pool.fetch(
        "SELECT c.* FROM event_correlations c JOIN events e USING (event_id) WHERE e.aggregate_id = $1",
        order,
    )
    assert [(c["correlation_type"], c["status"], c["external_id"]) for c in corr] == [
        ("payment_capture", "succeeded", "ch_123")
    ]
    meta = await pool.fetchval(
        "SELECT metadata FROM events WHERE aggregate_id = $1 AND aggregate_version = 1", order
    )
    # `X-Forwarded-For: 203.0.113.9, 10.0.0.1`: the proxy added 10.0.0.1 (the right-most).
    assert meta["ip_address"] == "10.0.0.1" and meta["user_agent"] == "shop/1.0"
    assert meta["workflow_execution_id"] == results[0]["execution_id"]

    capture = calls(httpserver, "/v1/charges/ch_123/capture")
    assert len(capture) == 1
    assert capture[0].headers["Authorization"] == f"Bearer {STRIPE_KEY}"
    assert len(calls(httpserver, "/slack/hook")) == 1
    customer = calls(httpserver, "/customer/events")
    assert sorted(c.get_json()["version"] for c in customer) == [1, 2, 3, 4]
    assert len(mailbox.messages) - before_mail == 1
    assert mailbox.messages[-1]["To"] == "ada@example.com"
    index = await pool.fetchrow(
        "SELECT status, version, customer_email FROM order_search_index WHERE order_id = $1", order
    )
    assert dict(index) == {"status": "delivered", "version": 4, "customer_email": "ada@example.com"}

    # The Stripe key is a secret: it reached Stripe, never the run log.
    leaked = await pool.fetchval(
        "SELECT count(*) FROM flowyard_run_events WHERE execution_id = ANY($1::uuid[]) AND data::text LIKE $2",
        [r["execution_id"] for r in results],
        f"%{STRIPE_KEY}%",
    )
    assert leaked == 0


async def test_same_event_three_times(es_runtime: Any, httpserver: HTTPServer) -> None:
    """Three deliveries of one payment event (no delivery-level key, so three
    runs really execute): one row, one version bump, one capture."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, created)
    paid = {**paid, "event_id": str(uuid.uuid4())}
    first, *repeats = [await deliver(es_runtime, paid) for _ in range(3)]
    assert first["output"]["duplicate"] is False and first["output"]["version"] == 2
    for r in repeats:
        assert r["output"]["duplicate"] is True
        assert r["output"]["event_id"] == paid["event_id"]
        assert r["output"]["version"] == 2
        assert r["output"]["sequence_number"] == first["output"]["sequence_number"]
        assert r["blocks"]["capture"]["status"] == "skipped"
    pool = es_runtime.db.pool
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM events WHERE event_id = $1::uuid", paid["event_id"]
        )
        == 1
    )
    assert (
        await pool.fetchval("SELECT version FROM order_snapshots WHERE order_id = $1", order) == 2
    )
    assert len(calls(httpserver, "/v1/charges/ch_123/capture")) == 1


async def test_delivery_level_idempotency_key(es_runtime: Any, httpserver: HTTPServer) -> None:
    """With an Idempotency-Key header the repeat does not even start a run."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    body = lifecycle(order)[0]
    key = {"Idempotency-Key": f"delivery-{order}"}
    r1 = await deliver(es_runtime, body, key)
    resp = await accept(es_runtime, "orders/events", "POST", key, {}, json.dumps(body).encode())
    assert resp.body["execution_id"] == r1["execution_id"]
    assert (
        await es_runtime.db.pool.fetchval(
            "SELECT count(*) FROM events WHERE aggregate_id = $1", order
        )
        == 1
    )


async def test_events_cannot_be_changed_through_the_workflow_database(es_runtime: Any) -> None:
    url = es_runtime.db.url
    conn = await asyncpg.connect(url)
    try:
        for sql in ("UPDATE events SET data = '{}'", "DELETE FROM events"):
            with pytest.raises(asyncpg.RestrictViolationError, match="events is append-only"):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_analytics_queries(es_runtime: Any, httpserver: HTTPServer) -> None:
    """Every query in analytics.sql runs on a store with real traffic."""
    from templates import ROOT

    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:2]:
        await deliver(es_runtime, ev)
    text = (ROOT / "order_processing" / "analytics.sql").read_text()
    queries = {}
    for chunk in text.split(";"):
        names = [
            ln.split(":", 1)[1].strip() for ln in chunk.splitlines() if ln.startswith("-- name:")
        ]
        if names:
            queries[names[0]] = chunk
    assert set(queries) >= {
        "most_common_event_types",
        "events_per_hour",
        "processing_latency",
        "failed_correlations",
    }
    pool = es_runtime.db.pool
    types = {
        r["event_type"]: r["events"] for r in await pool.fetch(queries["most_common_event_types"])
    }
    assert types["order_created"] >= 1 and types["payment_received"] >= 1
    hours = await pool.fetch(queries["events_per_hour"])
    assert len(hours) == 48 and sum(r["events"] for r in hours) >= 2
    for row in await pool.fetch(queries["processing_latency"]):
        assert 0 <= row["p50_ms"] <= row["max_ms"]
    await pool.fetch(queries["failed_correlations"])
    await pool.fetch(queries["consistency_failures"])
    # Every payment of this store was captured (or its failure recorded).
    assert (
        await pool.fetch(queries["payments_without_capture"].replace("5 minutes", "0 seconds"))
        == []
    )


async def test_fifty_concurrent_events_for_one_order(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(es_runtime, lifecycle(order)[0])
    items = [
        {"event_type": "item_added", "order_id": order, "sku": f"S{i}", "qty": i} for i in range(49)
    ]
    results = await asyncio.gather(*(deliver(es_runtime, ev) for ev in items))
    assert sorted(r["output"]["version"] for r in results) == list(range(2, 51))
    pool = es_runtime.db.pool
    snap = await pool.fetchrow(
        "SELECT version, state FROM order_snapshots WHERE order_id = $1", order
    )
    assert snap["version"] == 50
    versions = [
        r[0]
        for r in await pool.fetch(
            "SELECT aggregate_version FROM events WHERE aggregate_id = $1 ORDER BY sequence_number",
            order,
        )
    ]
    assert versions == list(range(1, 51))  # appended under the lock: stream order == sequence order
    history = [
        r[0]
        for r in await pool.fetch(
            "SELECT version FROM order_snapshot_history WHERE order_id = $1 ORDER BY 1", order
        )
    ]
    assert history == [10, 20, 30, 40, 50]

    replay = await es_runtime.execute(
        es_runtime.load_workflow("replay_events"), {"order_id": order, "from_start": True}
    )
    assert replay["status"] == "succeeded", replay["error"]
    out = replay["output"]
    assert out["consistent"] is True and out["events"] == 50
    assert out["state"] == snap["state"]
