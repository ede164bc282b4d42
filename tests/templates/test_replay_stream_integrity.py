"""Replay Events checks that an order's event versions run 1, 2, 3 … one each.

Black-box report: with version 2 of a 3-event order deleted, a replay said
`events: 3`, and `repair: true` rebuilt the snapshot without the missing event, after
which every check passed; events at version 0 or below were left out of the fold
without a word; a duplicated version was folded twice and repaired in; and an `as_of`
whose events' `created_at` ran out of order with their versions folded versions 1
and 4 and called it checked. Each is now an inconsistent check naming the fault, and
a repair is refused (`repair_refused`), as for an event this release cannot read.
Replay Events (Agent) makes the same check (its model folds the same stream), and
refuses any repair in its first step.

The faults are made the way they would arrive: by a hand edit or a restore that
bypasses the append-only trigger (`session_replication_role = replica`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from es_support import REPLAYS, SNAPSHOT_EVERY, calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

SNAPSHOT = "SELECT version, state, last_event_id FROM order_snapshots WHERE order_id = $1"


async def replay(rt: Any, template: str = "replay_events", **input: Any) -> dict[str, Any]:
    result = await rt.execute(rt.load_workflow(template), input)
    assert result["status"] == "succeeded", result["error"]
    return result["output"]


async def tamper(rt: Any, sql: str, *args: Any) -> None:
    """Run ``sql`` past the events table's append-only trigger, as a restore would."""
    async with rt.db.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(sql, *args)


async def new_order(rt: Any, events: int) -> str:
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:events]:
        await deliver(rt, ev)
    return order


async def assert_repair_refused(
    rt: Any, template: str, order: str, says: str, **point: Any
) -> None:
    """A repair changes nothing, and says why with ``says`` (the Agent variant
    refuses every repair, before it reads the stream)."""
    before = await rt.db.pool.fetchrow(SNAPSHOT, order)
    if template == "replay_events_agent":
        input = {"order_id": order, "repair": True, **point}
        result = await rt.execute(rt.load_workflow(template), input)
        assert result["status"] == "failed" and result["error"]["block"] == "check_input"
    else:
        out = await replay(rt, order_id=order, repair=True, **point)
        assert out["consistent"] is False and out["repaired"] is False
        assert out["repair_refused"].startswith("not repaired:"), out["repair_refused"]
        assert says in out["repair_refused"], out["repair_refused"]
    assert await rt.db.pool.fetchrow(SNAPSHOT, order) == before


@pytest.mark.parametrize("template", REPLAYS)
async def test_a_missing_version_is_reported_and_not_repaired_over(
    template_rt: Any, httpserver: HTTPServer, template: str
) -> None:
    es_runtime = template_rt
    stand_ins(httpserver)
    order = await new_order(es_runtime, 3)
    await tamper(
        es_runtime,
        "DELETE FROM events WHERE aggregate_id = $1 AND aggregate_version = 2",
        order,
    )
    out = await replay(es_runtime, template, order_id=order)
    assert out["consistent"] is False
    assert out["events"] == 2 and out["replayed"] == 2  # what the state reflects
    assert "version 2 is missing" in " ".join(out["reasons"]), out["reasons"]
    alert = calls(httpserver, "/slack/hook")[-1].get_json()["text"]
    assert order in alert and "version 2 is missing" in alert
    await assert_repair_refused(es_runtime, template, order, "version 2 is missing")
    audit = await replay(es_runtime, template, order_id=order, from_start=True)
    assert audit["consistent"] is False and "version 2 is missing" in " ".join(audit["reasons"])
    # A point before the gap is no way around it: the order's stream is broken.
    past = await replay(es_runtime, template, order_id=order, version=1)
    assert past["consistent"] is False and past["checked"] is False


@pytest.mark.parametrize("template", REPLAYS)
@pytest.mark.parametrize("version", [0, -1])
async def test_an_event_below_version_1_is_reported_not_left_out(
    template_rt: Any, httpserver: HTTPServer, version: int, template: str
) -> None:
    es_runtime = template_rt
    stand_ins(httpserver)
    order = await new_order(es_runtime, 2)
    await tamper(
        es_runtime,
        "INSERT INTO events (event_id, event_type, aggregate_id, aggregate_version, data)"
        " VALUES ($1, 'order_cancelled', $2, $3, '{}')",
        uuid.uuid4(),
        order,
        version,
    )
    out = await replay(es_runtime, template, order_id=order)
    assert out["consistent"] is False
    assert f"version {version} is stored" in " ".join(out["reasons"]), out["reasons"]
    await assert_repair_refused(es_runtime, template, order, f"version {version} is stored")


@pytest.fixture
async def without_version_key(es_runtime: Any) -> AsyncIterator[None]:
    """The events' unique (aggregate, version) index dropped, as a restore into a
    table made by hand would lack it; put back afterwards for the module's other tests."""
    pool = es_runtime.db.pool
    await pool.execute("DROP INDEX events_aggregate_version_key")
    try:
        yield
    finally:
        await pool.execute(
            "CREATE UNIQUE INDEX events_aggregate_version_key"
            " ON events (aggregate_type, aggregate_id, aggregate_version)"
        )


@pytest.mark.parametrize("template", REPLAYS)
async def test_a_version_stored_twice_is_reported_not_folded_in(
    template_rt: Any, httpserver: HTTPServer, without_version_key: None, template: str
) -> None:
    es_runtime = template_rt
    stand_ins(httpserver)
    order = await new_order(es_runtime, 3)
    copy = uuid.uuid4()
    await es_runtime.db.pool.execute(
        "INSERT INTO events (event_id, event_type, event_version, aggregate_id,"
        " aggregate_version, data, metadata)"
        " SELECT $1, event_type, event_version, aggregate_id, aggregate_version, data, metadata"
        "   FROM events WHERE aggregate_id = $2 AND aggregate_version = 2",
        copy,
        order,
    )
    try:
        out = await replay(es_runtime, template, order_id=order, from_start=True)
        assert out["consistent"] is False
        assert "version 2 is stored 2 times" in " ".join(out["reasons"]), out["reasons"]
        await assert_repair_refused(es_runtime, template, order, "version 2 is stored 2 times")
    finally:
        await tamper(es_runtime, "DELETE FROM events WHERE event_id = $1", copy)


@pytest.mark.parametrize("template", REPLAYS)
async def test_an_as_of_that_selects_no_prefix_is_reported(
    template_rt: Any, httpserver: HTTPServer, template: str
) -> None:
    es_runtime = template_rt
    stand_ins(httpserver)
    order = await new_order(es_runtime, 4)
    pool = es_runtime.db.pool
    last = await pool.fetchval(
        "SELECT created_at FROM events WHERE aggregate_id = $1 AND aggregate_version = 4", order
    )
    # Versions 2 and 3 recorded after version 4 (a restore that reset created_at).
    await tamper(
        es_runtime,
        "UPDATE events SET created_at = $2 WHERE aggregate_id = $1 AND aggregate_version IN (2, 3)",
        order,
        last + timedelta(seconds=5),
    )
    out = await replay(es_runtime, template, order_id=order, as_of=last.isoformat())
    assert out["consistent"] is False and out["events"] == 2
    said = " ".join(out["reasons"])
    assert "does not select a prefix" in said and "version 2" in said, out["reasons"]
    await assert_repair_refused(
        es_runtime, template, order, "does not select a prefix", as_of=last.isoformat()
    )
    # The stream itself is whole: without as_of the order checks out.
    assert (await replay(es_runtime, template, order_id=order))["consistent"] is True


@pytest.mark.parametrize("template", REPLAYS)
async def test_a_missing_last_version_is_reported_and_not_repaired_over(
    template_rt: Any, httpserver: HTTPServer, template: str
) -> None:
    """Black-box report: with the last of 3 events deleted, the replay said only that
    the snapshot ran 1 version past the last event, and `repair: true` rewrote it to
    version 2 without the item. The snapshot was folded from version 3: it is missing."""
    es_runtime = template_rt
    stand_ins(httpserver)
    order = await new_order(es_runtime, 3)
    assert (await es_runtime.db.pool.fetchrow(SNAPSHOT, order))["version"] == 3
    await tamper(
        es_runtime,
        "DELETE FROM events WHERE aggregate_id = $1 AND aggregate_version = 3",
        order,
    )
    says = "version 3 is missing: the snapshot was folded from it"
    out = await replay(es_runtime, template, order_id=order)
    assert out["consistent"] is False
    assert says in " ".join(out["reasons"]), out["reasons"]
    alert = calls(httpserver, "/slack/hook")[-1].get_json()["text"]
    assert order in alert and says in alert
    await assert_repair_refused(es_runtime, template, order, says)
    audit = await replay(es_runtime, template, order_id=order, from_start=True)
    assert audit["consistent"] is False and says in " ".join(audit["reasons"])


@pytest.mark.parametrize("template", REPLAYS)
async def test_a_kept_snapshot_past_deleted_events_is_a_stream_break(
    template_rt: Any, httpserver: HTTPServer, template: str
) -> None:
    """The same with the events behind a kept snapshot deleted: the kept snapshot at
    SNAPSHOT_EVERY names an event no longer there, so that version is missing."""
    es_runtime = template_rt
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(es_runtime, lifecycle(order)[0])
    for i in range(SNAPSHOT_EVERY - 1):
        await deliver(es_runtime, {"event_type": "item_added", "order_id": order, "sku": f"S{i}"})
    pool = es_runtime.db.pool
    assert (
        await pool.fetchval("SELECT version FROM order_snapshot_history WHERE order_id = $1", order)
        == SNAPSHOT_EVERY
    )
    await tamper(
        es_runtime,
        "DELETE FROM events WHERE aggregate_id = $1 AND aggregate_version >= $2",
        order,
        SNAPSHOT_EVERY - 1,
    )
    # The live snapshot too would name a deleted event: put it where the events end.
    await pool.execute(
        "UPDATE order_snapshots s SET version = e.aggregate_version, last_event_id = e.event_id,"
        " last_event_sequence = e.sequence_number, last_event_at = e.created_at"
        "  FROM events e WHERE s.order_id = $1 AND e.aggregate_id = $1"
        "   AND e.aggregate_version = $2",
        order,
        SNAPSHOT_EVERY - 2,
    )
    says = f"versions {SNAPSHOT_EVERY - 1} to {SNAPSHOT_EVERY} are missing: kept snapshot"
    out = await replay(es_runtime, template, order_id=order)
    assert out["consistent"] is False
    assert says in " ".join(out["reasons"]), out["reasons"]
    await assert_repair_refused(es_runtime, template, order, says)
    assert (
        await pool.fetchval("SELECT version FROM order_snapshot_history WHERE order_id = $1", order)
        == SNAPSHOT_EVERY
    )
