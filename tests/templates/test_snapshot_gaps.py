"""An append continues an order's stream only where its events end: a snapshot
whose version is not the last stored event's (ahead after an events row was lost
or restored from an older backup, behind, or missing) fails the append loudly
instead of writing an event after a gap (or colliding with a stored one)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from es_support import deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

from blocks.webhook import accept
from engine.database import init_connection
from templates.event_store import append_batch

BREAK_SNAPSHOT = {
    "ahead": "UPDATE order_snapshots SET version = version + 2 WHERE order_id = $1",
    "behind": "UPDATE order_snapshots SET version = version - 1 WHERE order_id = $1",
    "missing": "DELETE FROM order_snapshots WHERE order_id = $1",
}


async def attempt(rt: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Deliver one event and return its run, whatever its status."""
    resp = await accept(
        rt, "orders/events", "POST", {"Content-Type": "application/json"}, {},
        json.dumps(body).encode(),
    )  # fmt: skip
    assert resp.status == 202, resp.body
    return await rt.wait(resp.body["execution_id"], timeout=60)


@pytest.mark.parametrize("how", sorted(BREAK_SNAPSHOT))
async def test_live_append_refuses_to_continue_from_a_snapshot_that_is_not_at_the_head(
    es_runtime: Any, httpserver: HTTPServer, how: str
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order):
        await deliver(es_runtime, ev)
    pool = es_runtime.db.pool
    await pool.execute(BREAK_SNAPSHOT[how], order)
    result = await attempt(es_runtime, {"event_type": "item_added", "order_id": order, "sku": "Z"})
    assert result["status"] == "failed", how
    message = result["error"]["message"]
    assert order in message and "snapshot" in message and "not appended" in message, message
    versions = await pool.fetch(
        "SELECT aggregate_version FROM events WHERE aggregate_id = $1 ORDER BY 1", order
    )
    assert [r[0] for r in versions] == [1, 2, 3, 4]


async def test_an_order_holding_an_event_this_release_cannot_read_is_told_what_works(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """Black-box report: with a stored event_version this release cannot read, the
    refused append said to run Replay with repair: true and resend, and Replay then
    refused the repair (repair_refused): advice nobody could follow."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:2]:
        await deliver(es_runtime, ev)
    # Stored by a newer release (or another writer), without the snapshot.
    await es_runtime.db.pool.execute(
        "INSERT INTO events (event_id, event_type, event_version, aggregate_id, aggregate_version,"
        " data) VALUES ($1, 'order_shipped', 2, $2, 3, $3)",
        uuid.uuid4(),
        order,
        {"carrier": "DHL"},
    )
    event_id = str(uuid.uuid4())
    item = {"event_type": "item_added", "order_id": order, "sku": "Z", "event_id": event_id}
    result = await attempt(es_runtime, item)
    assert result["status"] == "failed"
    assert result["error"]["message"].startswith(
        f"order {order}: item_added {event_id} was not appended: the order's snapshot is at"
        " version 2 but its last stored event is at version 3. The order holds an event this"
        " release cannot read (order_shipped event_version 2 is newer than this reducer reads"
        " (up to 1)), so Replay Events cannot rebuild its snapshot yet (repair: true answers"
        " repair_refused). Update the template's lib/ to a release that reads it, then rebuild"
        " the snapshot with Replay Events (repair: true), then resend"
    )
    # What it says of the repair is so.
    repair = await es_runtime.execute(
        es_runtime.load_workflow("replay_events"), {"order_id": order, "repair": True}
    )
    assert repair["output"]["repaired"] is False
    assert repair["output"]["repair_refused"].startswith("not repaired: event")


def test_an_order_whose_events_this_release_reads_is_told_to_repair(lib_path: Any) -> None:
    from order_intake import not_at_head

    said = not_at_head("o1", "item_added", "e1", None, 4, {"order_created": 2, "item_added": 1})
    assert said == (
        "order o1: item_added e1 was not appended: the order's snapshot is missing but its last"
        " stored event is at version 4. Restore any missing events, or rebuild the snapshot"
        " from the events with Replay Events (repair: true), then resend"
    )


async def test_a_redelivery_is_still_a_duplicate_while_the_snapshot_is_ahead(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created = {**lifecycle(order)[0], "event_id": str(uuid.uuid4())}
    await deliver(es_runtime, created)
    await es_runtime.db.pool.execute(BREAK_SNAPSHOT["ahead"], order)
    again = await deliver(es_runtime, created)
    assert again["output"]["duplicate"] is True and again["output"]["version"] == 1


@pytest.fixture
async def conn(event_db: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(event_db)
    await init_connection(connection)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.mark.parametrize("how", sorted(BREAK_SNAPSHOT))
async def test_batch_refuses_to_continue_from_a_snapshot_that_is_not_at_the_head(
    conn: asyncpg.Connection, how: str
) -> None:
    order, healthy = (f"batch-{uuid.uuid4().hex[:6]}" for _ in range(2))
    first = [
        {"event_type": "item_added", "aggregate_id": o, "data": {"sku": i}}
        for o in (order, healthy)
        for i in range(4)
    ]
    assert await append_batch(conn, first) == 8
    await conn.execute(BREAK_SNAPSHOT[how], order)
    more = [
        {"event_type": "item_added", "aggregate_id": o, "data": {"sku": "Z"}}
        for o in (healthy, order)
    ]
    with pytest.raises(ValueError, match=rf"{order}.*snapshot.*not appended"):
        await append_batch(conn, more)
    # One transaction: the healthy order's event is not stored either.
    versions = await conn.fetch(
        "SELECT aggregate_id, max(aggregate_version) FROM events"
        " WHERE aggregate_id = ANY($1::text[]) GROUP BY 1",
        [order, healthy],
    )
    assert dict(versions) == {order: 4, healthy: 4}


async def test_batch_repeating_stored_events_appends_nothing_while_the_snapshot_is_ahead(
    conn: asyncpg.Connection,
) -> None:
    """As the live path answers a redelivery: nothing new, nothing refused."""
    order = f"batch-{uuid.uuid4().hex[:6]}"
    evs = [
        {"event_type": "item_added", "aggregate_id": order, "event_id": str(uuid.uuid4()),
         "data": {"sku": i}}
        for i in range(3)
    ]  # fmt: skip
    assert await append_batch(conn, evs) == 3
    await conn.execute(BREAK_SNAPSHOT["ahead"], order)
    assert await append_batch(conn, evs) == 0


async def test_batch_refuses_an_event_id_stored_for_another_event(
    conn: asyncpg.Connection,
) -> None:
    """It skipped it as a repeat: the other event was lost without a word (the
    live workflow fails the run in that case)."""
    first, other = (f"batch-{uuid.uuid4().hex[:6]}" for _ in range(2))
    eid = str(uuid.uuid4())
    assert await append_batch(conn, [{"event_type": "order_created", "aggregate_id": first,
                                      "event_id": eid, "data": {}}]) == 1  # fmt: skip
    twice = {"event_type": "item_added", "aggregate_id": other, "event_id": eid, "data": {}}
    with pytest.raises(ValueError, match=f"event_id {eid} is already stored for order {first}"
                       " with a different event: this item_added for order"):  # fmt: skip
        await append_batch(conn, [twice])
    in_batch = str(uuid.uuid4())
    with pytest.raises(ValueError, match=f"event_id {in_batch} is already stored"):
        await append_batch(conn, [{**twice, "event_id": in_batch},
                                  {**twice, "event_id": in_batch, "data": {"sku": "B"}}])  # fmt: skip
    assert await conn.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", other) == 0


@pytest.mark.parametrize(
    ("stored", "given"),
    [({"gift": False}, {"gift": 0}), ({"qty": 1}, {"qty": True}), ({"n": [0]}, {"n": [False]})],
)
async def test_batch_tells_true_from_1_in_an_event_id_s_data(
    conn: asyncpg.Connection, stored: dict[str, Any], given: dict[str, Any]
) -> None:
    """Compared with Python's `==` (where True == 1), another event under a stored
    id was skipped as a repeat: lost without a word. The live path compares as
    jsonb and refuses it; so does the batch now (and a true repeat is still one)."""
    order = f"batch-{uuid.uuid4().hex[:6]}"
    eid = str(uuid.uuid4())
    event = {"event_type": "item_added", "aggregate_id": order, "event_id": eid, "data": stored}
    assert await append_batch(conn, [event]) == 1
    assert await append_batch(conn, [event]) == 0  # the same event: a repeat
    with pytest.raises(ValueError, match=f"event_id {eid} is already stored for order {order}"):
        await append_batch(conn, [{**event, "data": given}])
    in_batch = {**event, "event_id": str(uuid.uuid4())}
    with pytest.raises(ValueError, match=f"event_id {in_batch['event_id']} is already stored"):
        await append_batch(conn, [in_batch, {**in_batch, "data": given}])
    assert await conn.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", order) == 1


@pytest.mark.parametrize(
    ("event", "why"),
    [
        ({"aggregate_id": {"a": 1}}, "order_id is a JSON object"),
        ({"data": {"items": 5}}, "items must be a JSON array"),
        ({"data": {"charge_id": "ch/x"}}, "charge_id must be a processor id"),
        ({"data": [1]}, "data must be a JSON object"),
        ({"event_version": 0}, "event_version must be a whole number from 1"),
    ],
)
async def test_batch_refuses_what_the_live_workflow_refuses(
    conn: asyncpg.Connection, event: dict[str, Any], why: str
) -> None:
    """It stored `{"a": 1}` as the order "{'a': 1}", and data enrich refuses."""
    order = f"batch-{uuid.uuid4().hex[:6]}"
    good = {"event_type": "item_added", "aggregate_id": order, "data": {"sku": "A"}}
    with pytest.raises(ValueError, match=why):
        await append_batch(conn, [good, {**good, **event}])
    assert await conn.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", order) == 0


async def test_batch_reads_event_ids_as_the_webhook_does(conn: asyncpg.Connection) -> None:
    """0 was read as no id (a re-import stored the event again), "" and false were
    taken, and "evt-7" was a bare UUID error, where a delivery of it gets a UUIDv5."""
    import order_intake

    order = f"batch-{uuid.uuid4().hex[:6]}"
    created = {"event_type": "order_created", "aggregate_id": order, "data": {}}
    for raw in (0, f"evt-{order}"):
        event = {**created, "event_id": raw}
        assert await append_batch(conn, [event]) in (0, 1)
        assert await append_batch(conn, [event]) == 0  # a re-import appends nothing
        stored = await conn.fetchval(
            "SELECT count(*) FROM events WHERE event_id = $1::uuid", order_intake.event_uuid(raw)
        )
        assert stored == 1
    for bad, why in (("", "event_id must be text or a whole number"),
                     (False, "event_id must be text or a whole number"),
                     (1.5, "event_id 1.5 is not a whole number"),
                     (" 8 ", "event_id ' 8 ' has spaces around it")):  # fmt: skip
        with pytest.raises(ValueError, match=why):
            await append_batch(conn, [{**created, "event_id": bad}])
