"""An event_version newer than the reducer knows is never folded as a guess: the
live append refuses it (nothing stored), a batch refuses it, and a replay of one
that is stored anyway keeps it as an anomaly instead of applying it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from es_support import calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

from blocks.webhook import accept
from engine.database import init_connection
from templates.event_store import append_batch


@pytest.fixture
def oe(lib_path: Path) -> Any:
    import order_events

    return order_events


def test_every_event_type_the_reducer_handles_has_a_current_version(oe: Any) -> None:
    # A type missing from CURRENT_VERSION would have no newest version to check against.
    assert set(oe.CURRENT_VERSION) == set(oe._HANDLERS)


def test_reducer_keeps_a_too_new_event_as_an_anomaly_without_applying_it(oe: Any) -> None:
    paid = oe.fold(
        [
            {"event_id": "e1", "event_type": "order_created", "event_version": 2,
             "aggregate_id": "o1", "data": {"first_name": "Ada"}},
            {"event_id": "e2", "event_type": "payment_received", "event_version": 2,
             "aggregate_id": "o1", "data": {"charge_id": "ch_1", "amount_cents": 5}},
        ]
    )  # fmt: skip
    shipped_v2 = {"event_id": "e3", "event_type": "order_shipped", "event_version": 2,
                  "aggregate_id": "o1", "data": {"carrier": "DHL"}}  # fmt: skip
    after = oe.apply_event(paid, shipped_v2)
    assert after["status"] == "paid" and "shipping" not in after
    [anomaly] = after["anomalies"]
    assert anomaly["event_id"] == "e3"
    assert "order_shipped" in anomaly["reason"] and "event_version 2" in anomaly["reason"]
    assert after["last_event_id"] == "e3"  # the stream position still moves on
    # The newest known version is applied as before.
    assert oe.apply_event(paid, {**shipped_v2, "event_version": 1})["status"] == "shipped"


async def test_live_append_refuses_an_event_version_newer_than_the_reducer(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(es_runtime, created)
    event_id = str(uuid.uuid4())
    body = {**paid, "event_id": event_id, "event_version": 3}
    resp = await accept(
        es_runtime,
        "orders/events",
        "POST",
        {"Content-Type": "application/json"},
        {},
        json.dumps(body).encode(),
    )
    result = await es_runtime.wait(resp.body["execution_id"], timeout=60)
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert event_id in message and "payment_received" in message and "event_version 3" in message
    pool = es_runtime.db.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", order) == 1
    assert (
        await pool.fetchval("SELECT version FROM order_snapshots WHERE order_id = $1", order) == 1
    )
    assert calls(httpserver, "/v1/charges/ch_123/capture") == []


@pytest.mark.parametrize("version", ["abc", 0, -1, 2.5, True, "１", "²", 2**31, "2147483648"])
async def test_live_append_refuses_an_event_version_that_is_not_a_whole_number(
    es_runtime: Any, httpserver: HTTPServer, version: Any
) -> None:
    # It was int(...): "abc" failed with a bare ValueError, 0 and -1 were stored;
    # 2**31 (of an unknown event type) failed the insert with an SQL error.
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created = {**lifecycle(order)[0], "event_version": version}
    resp = await accept(
        es_runtime,
        "orders/events",
        "POST",
        {"Content-Type": "application/json"},
        {},
        json.dumps(created).encode(),
    )
    result = await es_runtime.wait(resp.body["execution_id"], timeout=60)
    assert result["status"] == "failed"
    assert (
        f"event_version must be a whole number from 1 to 2147483647, not {version!r}"
        in (result["error"]["message"])
    )
    pool = es_runtime.db.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", order) == 0


async def test_replay_keeps_a_stored_too_new_event_as_an_anomaly(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:2]:
        await deliver(es_runtime, ev)
    # Stored by a newer release (since rolled back), or restored from its backup.
    event_id = uuid.uuid4()
    await es_runtime.db.pool.execute(
        "INSERT INTO events (event_id, event_type, event_version, aggregate_id, aggregate_version,"
        " data) VALUES ($1, 'order_shipped', 2, $2, 3, $3)",
        event_id,
        order,
        {"carrier": "DHL", "tracking": {"number": "T-1"}},
    )
    result = await es_runtime.execute(
        es_runtime.load_workflow("replay_events"), {"order_id": order}
    )
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["events"] == 3
    assert out["state"]["status"] == "paid" and "shipping" not in out["state"]
    [anomaly] = out["state"]["anomalies"]
    assert anomaly["event_id"] == str(event_id) and "event_version 2" in anomaly["reason"]
    # A repair would write a snapshot without the shipped event's effect, at its
    # version: that snapshot would then pass every check of this release. Refused.
    snapshot = "SELECT version, state FROM order_snapshots WHERE order_id = $1"
    before = await es_runtime.db.pool.fetchrow(snapshot, order)
    repair = await es_runtime.execute(
        es_runtime.load_workflow("replay_events"), {"order_id": order, "repair": True}
    )
    assert repair["status"] == "succeeded", repair["error"]
    assert repair["output"]["repaired"] is False and repair["output"]["consistent"] is False
    assert repair["output"]["repair_refused"].startswith(f"not repaired: event {event_id}")
    assert await es_runtime.db.pool.fetchrow(snapshot, order) == before


@pytest.fixture
async def conn(event_db: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(event_db)
    await init_connection(connection)
    try:
        yield connection
    finally:
        await connection.close()


async def test_batch_refuses_an_event_version_newer_than_the_reducer(
    conn: asyncpg.Connection,
) -> None:
    order = f"batch-{uuid.uuid4().hex[:6]}"
    event_id = str(uuid.uuid4())
    evs = [
        {"event_type": "order_created", "aggregate_id": order, "event_version": 2, "data": {}},
        {"event_type": "order_created", "aggregate_id": f"{order}-b", "event_version": 3,
         "event_id": event_id, "data": {}},
    ]  # fmt: skip
    with pytest.raises(ValueError, match=rf"{event_id}.*order_created.*event_version 3"):
        await append_batch(conn, evs)
    stored = await conn.fetchval(
        "SELECT count(*) FROM events WHERE aggregate_id = ANY($1::text[])", [order, f"{order}-b"]
    )
    assert stored == 0
