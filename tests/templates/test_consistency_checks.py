"""The event-sourcing templates' checks: the consistency check must never say
"consistent" for a snapshot that disagrees with its events, a reused event_id
must not silently drop a different event, and a point in time must not depend
on the database session's time zone. End to end, through the workflows."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from es_support import REPLAYS, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

from blocks.webhook import accept


async def replay_run(rt: Any, **input: Any) -> dict[str, Any]:
    """The whole run record (status, output, error) of one Replay Events run."""
    return await rt.execute(rt.load_workflow("replay_events"), input)


async def replay(rt: Any, **input: Any) -> dict[str, Any]:
    result = await replay_run(rt, **input)
    assert result["status"] == "succeeded", result["error"]
    return result["output"]


async def new_order(rt: Any, httpserver: HTTPServer) -> str:
    """An order with its four lifecycle events, appended through the webhook."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order):
        await deliver(rt, ev)
    return order


async def test_snapshot_ahead_of_events_is_a_mismatch_at_a_point_past_the_head(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    order = await new_order(es_runtime, httpserver)
    pool = es_runtime.db.pool
    await pool.execute("UPDATE order_snapshots SET version = 10 WHERE order_id = $1", order)
    # A point after every event is the head of the stream: the check must run.
    out = await replay(es_runtime, order_id=order, as_of="2999-01-01T00:00:00Z")
    assert out["events"] == 4
    assert out["checked"] is True and out["consistent"] is False
    assert out["snapshot_version"] == 10


async def test_lagging_snapshot_is_not_reported_consistent_at_its_own_version(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    order = await new_order(es_runtime, httpserver)
    pool = es_runtime.db.pool
    at_two = await replay(es_runtime, order_id=order, version=2)
    # The snapshot of version 2, honestly built, while the events go up to 4.
    await pool.execute(
        "UPDATE order_snapshots SET version = 2, state = $2 WHERE order_id = $1",
        order,
        at_two["state"],
    )
    out = await replay(es_runtime, order_id=order, version=2)
    # Version 2 is not the head: nothing can be said about the snapshot there.
    assert out["checked"] is False and out["snapshot_state"] is None
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM consistency_checks WHERE order_id = $1 AND consistent", order
        )
        == 0
    )
    head = await replay(es_runtime, order_id=order)
    assert head["checked"] is True and head["consistent"] is False


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("last_event_sequence", "last_event_sequence - 1"),
        ("last_event_id", "gen_random_uuid()"),
        ("last_event_at", "last_event_at - interval '1 hour'"),
    ],
)
async def test_snapshot_pointing_at_the_wrong_event_is_detected_and_repaired(
    es_runtime: Any, httpserver: HTTPServer, column: str, value: str
) -> None:
    order = await new_order(es_runtime, httpserver)
    pool = es_runtime.db.pool
    honest = await pool.fetchrow("SELECT * FROM order_snapshots WHERE order_id = $1", order)
    await pool.execute(f"UPDATE order_snapshots SET {column} = {value} WHERE order_id = $1", order)
    found = await replay(es_runtime, order_id=order)
    assert found["checked"] is True and found["consistent"] is False
    events_before = await pool.fetchval("SELECT count(*) FROM events")
    fixed = await replay(es_runtime, order_id=order, repair=True)
    assert fixed["repaired"] is True
    after = await pool.fetchrow("SELECT * FROM order_snapshots WHERE order_id = $1", order)
    assert after[column] == honest[column]
    assert await pool.fetchval("SELECT count(*) FROM events") == events_before
    assert (await replay(es_runtime, order_id=order))["consistent"] is True


async def test_consistent_order_repair_changes_nothing(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    order = await new_order(es_runtime, httpserver)
    pool = es_runtime.db.pool
    before = await pool.fetchrow("SELECT * FROM order_snapshots WHERE order_id = $1", order)
    out = await replay(es_runtime, order_id=order, repair=True)
    assert out["consistent"] is True and out["repaired"] is False
    assert await pool.fetchrow("SELECT * FROM order_snapshots WHERE order_id = $1", order) == before


async def test_reused_event_id_with_a_different_event_fails_loudly(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    event_id = str(uuid.uuid4())
    first, other = (f"ord-{uuid.uuid4().hex[:8]}" for _ in range(2))
    await deliver(es_runtime, {**lifecycle(first)[0], "event_id": event_id})
    # The same id, sent again with the same body: a redelivery, answered as before.
    again = await deliver(es_runtime, {**lifecycle(first)[0], "event_id": event_id})
    assert again["output"]["duplicate"] is True
    # The same id on another order's event: not this event, and it is not stored.
    # Answering "duplicate" would lose that event without a word.
    raw = {**lifecycle(other)[0], "event_id": event_id}
    resp = await accept(
        es_runtime,
        "orders/events",
        "POST",
        {"Content-Type": "application/json"},
        {},
        json.dumps(raw).encode(),
    )
    result = await es_runtime.wait(resp.body["execution_id"], timeout=60)
    assert result["status"] == "failed"
    assert event_id in result["error"]["message"] and "different" in result["error"]["message"]
    pool = es_runtime.db.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", other) == 0


async def test_as_of_without_a_time_zone_is_refused(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    order = await new_order(es_runtime, httpserver)
    # Read in the database session's time zone, a naive time would pick a
    # different prefix of the stream on a server that is not on UTC.
    result = await replay_run(es_runtime, order_id=order, as_of="2025-01-02T10:00:00")
    assert result["status"] == "failed"
    assert "as_of" in result["error"]["message"]
    for aware in ("2999-01-02T10:00:00Z", "2999-01-02T10:00:00+02:00", "2999-01-02 10:00:00.5-05"):
        assert (await replay(es_runtime, order_id=order, as_of=aware))["events"] == 4


async def test_replay_from_kept_snapshots_equals_replay_from_event_one_at_every_version(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    # SNAPSHOT_EVERY is 10 in these tests: 22 events cross two kept snapshots,
    # with a v1 payment (upcast on read) in the middle of the stream.
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid, *_ = lifecycle(order)
    await deliver(es_runtime, created)
    for i in range(10):
        await deliver(es_runtime, {"event_type": "item_added", "order_id": order, "sku": f"S{i}"})
    v1_paid = {k: v for k, v in paid.items() if k not in ("amount_cents", "event_version")}
    await deliver(es_runtime, {**v1_paid, "amount": 12.5})
    for _ in range(10):  # out of lifecycle order: kept as anomalies
        await deliver(es_runtime, {"event_type": "tracking_updated", "order_id": order})
    for version in range(23):
        fast = await replay(es_runtime, order_id=order, version=version)
        full = await replay(es_runtime, order_id=order, version=version, from_start=True)
        assert fast["state"] == full["state"] and fast["events"] == min(version, 22), version
    head = await replay(es_runtime, order_id=order, version=99)
    assert len(head["state"]["anomalies"]) == 10
    assert head["from_version"] == 20 and head["checked"] and head["consistent"]
    assert head["state"]["payment"]["amount_cents"] == 1250


@pytest.mark.parametrize("template", REPLAYS)
async def test_a_recorded_check_says_why_it_failed(
    template_rt: Any, httpserver: HTTPServer, template: str
) -> None:
    """Compliance's record of a check is its ``consistency_checks`` row: the run that
    said why (``reasons``) is pruned with the run log (30 days by default), and a row
    saying ``consistent = false`` with the replayed and the snapshot state equal (here:
    the snapshot's last_event_sequence names another event) explained nothing. The
    row keeps the reasons; a consistent check's are empty."""
    rt = template_rt
    order = await new_order(rt, httpserver)
    pool = rt.db.pool
    await pool.execute(
        "UPDATE order_snapshots SET last_event_sequence = last_event_sequence - 1"
        " WHERE order_id = $1",
        order,
    )
    result = await rt.execute(rt.load_workflow(template), {"order_id": order})
    out = result["output"]
    assert out["consistent"] is False and out["reasons"], out
    row = await pool.fetchrow(
        "SELECT consistent, replayed_state = snapshot_state AS same, reasons::text"
        " FROM consistency_checks WHERE id = $1",
        out["check_id"],
    )
    assert row["consistent"] is False and row["same"] is True
    assert row["reasons"] is not None and json.loads(row["reasons"]) == out["reasons"]
    assert "last_event_sequence" in out["reasons"][0]

    await pool.execute(
        "UPDATE order_snapshots SET last_event_sequence = last_event_sequence + 1"
        " WHERE order_id = $1",
        order,
    )
    again = await rt.execute(rt.load_workflow(template), {"order_id": order})
    assert again["output"]["consistent"] is True, again["output"]
    reasons = await pool.fetchval(
        "SELECT reasons::text FROM consistency_checks WHERE id = $1", again["output"]["check_id"]
    )
    assert json.loads(reasons) == []
