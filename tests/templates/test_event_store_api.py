"""templates.event_store: COPY batches keep the live path's invariants, and the
Python replay (the workflow's own SQL) agrees with itself from any snapshot."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from engine.database import init_connection
from templates.event_store import append_batch, replay


@pytest.fixture
async def conn(event_db: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the module's event database, with the engine's codecs."""
    connection = await asyncpg.connect(event_db)
    await init_connection(connection)
    try:
        yield connection
    finally:
        await connection.close()


def events_for(order: str, n: int) -> list[dict[str, Any]]:
    first = {"event_type": "order_created", "aggregate_id": order, "event_version": 1,
             "data": {"name": "Ada Lovelace", "email": "a@example.com", "note": "tab\there\\back\nline"}}  # fmt: skip
    rest = [
        {"event_type": "item_added", "aggregate_id": order, "data": {"sku": f"S{i}"}}
        for i in range(n - 1)
    ]
    return [{**e, "event_id": str(uuid.uuid4())} for e in [first, *rest]]


async def test_batch_append_then_replay(conn: asyncpg.Connection) -> None:
    a, b = f"batch-{uuid.uuid4().hex[:6]}", f"batch-{uuid.uuid4().hex[:6]}"
    evs = events_for(a, 250) + events_for(b, 30)
    assert await append_batch(conn, evs) == 280
    assert await append_batch(conn, evs[:10]) == 0  # repeats append nothing
    rows = await conn.fetch(
        "SELECT aggregate_version FROM events WHERE aggregate_id = $1 ORDER BY sequence_number",
        a,
    )
    assert [r[0] for r in rows] == list(range(1, 251))
    assert await conn.fetchval("SELECT version FROM order_snapshots WHERE order_id = $1", a) == 250
    kept = [
        r[0]
        for r in await conn.fetch(
            "SELECT version FROM order_snapshot_history WHERE order_id = $1 ORDER BY 1", a
        )
    ]
    assert kept == [100, 200]
    stored = await conn.fetchval(
        "SELECT data FROM events WHERE aggregate_id = $1 AND aggregate_version = 1", a
    )
    assert stored["note"] == "tab\there\\back\nline"  # COPY escaping round-trips

    fast = await replay(conn, a)
    full = await replay(conn, a, from_start=True)
    assert (fast["from_version"], fast["replayed"]) == (200, 50)
    assert fast["state"] == full["state"]
    assert full["state"]["customer"]["first_name"] == "Ada"  # upcast on read
    snapshot = await conn.fetchval("SELECT state FROM order_snapshots WHERE order_id = $1", a)
    assert snapshot == full["state"]
    mid = await replay(conn, a, version=150)
    assert mid["from_version"] == 100 and len(mid["state"]["items"]) == 149
    assert (await replay(conn, b))["version"] == 30


async def test_replay_as_of_folds_the_events_recorded_by_then(conn: asyncpg.Connection) -> None:
    """`as_of` was bound under the workflow's old reference (<input.as_of?>) while
    the query reads <check_input.as_of?>: it was ignored, and every replay was the head."""
    order = f"batch-{uuid.uuid4().hex[:6]}"
    evs = events_for(order, 3)
    assert await append_batch(conn, evs[:2]) == 2
    then = await conn.fetchval("SELECT max(created_at) FROM events WHERE aggregate_id = $1", order)
    assert await append_batch(conn, evs[2:]) == 1
    for as_of in (then, then.isoformat()):
        past = await replay(conn, order, as_of=as_of)
        assert past["version"] == 2 and len(past["state"]["items"]) == 1, as_of
    assert (await replay(conn, order))["version"] == 3
    with pytest.raises(
        ValueError, match="as_of '2030-01-02 10:00' is not a time with Z or an offset"
    ):
        await replay(conn, order, as_of="2030-01-02 10:00")


async def test_batch_gives_new_events_increasing_uuid7_ids(conn: asyncpg.Connection) -> None:
    order = f"batch-{uuid.uuid4().hex[:6]}"
    evs = [
        {"event_type": "item_added", "aggregate_id": order, "data": {"sku": i}} for i in range(150)
    ]
    assert await append_batch(conn, evs) == 150
    ids = [
        r[0]
        for r in await conn.fetch(
            "SELECT event_id FROM events WHERE aggregate_type = 'order'"
            " AND aggregate_id = $1 ORDER BY aggregate_version",
            order,
        )
    ]
    assert len(set(ids)) == 150 and {u.version for u in ids} == {7}
    assert ids == sorted(ids)  # time-ordered: appended at the index's right edge
    kept = await conn.fetchval(
        "SELECT state FROM order_snapshot_history WHERE order_id = $1 AND version = 100", order
    )
    assert kept == (await replay(conn, order, version=100, from_start=True))["state"]
    head = await conn.fetchval("SELECT state FROM order_snapshots WHERE order_id = $1", order)
    assert head == (await replay(conn, order, from_start=True))["state"]


async def test_batch_stores_each_order_together_in_the_order_given(
    conn: asyncpg.Connection,
) -> None:
    prefix = f"mix-{uuid.uuid4().hex[:6]}"
    a, b = f"{prefix}-a", f"{prefix}-b"  # stored in this order: orders sorted
    meta = {"user_id": "u-ü", "ip_address": "10.0.0.1"}
    evs = [  # each order starts with a v2 event: the version is stored as given, not defaulted
        {"event_type": "item_added" if i else "order_created", "aggregate_id": order,
         "event_version": 1 if i else 2,
         "data": {"sku": f"{order}-{i}", "name": "Grüße ✓ \"quoted\""}, "metadata": meta}
        for i in range(5)
        for order in (a, b)  # interleaved on the way in
    ]  # fmt: skip
    assert await append_batch(conn, evs) == 10
    rows = await conn.fetch(
        "SELECT aggregate_id, aggregate_version, sequence_number, event_version, data, metadata"
        " FROM events WHERE aggregate_id = ANY($1::text[]) ORDER BY sequence_number",
        [a, b],
    )
    assert [r["aggregate_id"] for r in rows] == [a] * 5 + [b] * 5  # grouped by order
    for order in (a, b):
        mine = [r for r in rows if r["aggregate_id"] == order]
        assert [r["data"]["sku"] for r in mine] == [f"{order}-{i}" for i in range(5)]
        assert [r["aggregate_version"] for r in mine] == [1, 2, 3, 4, 5]
        seqs = [r["sequence_number"] for r in mine]
        assert seqs == list(range(seqs[0], seqs[0] + 5))  # consecutive positions
    assert [r["event_version"] for r in rows] == [2, 1, 1, 1, 1] * 2
    assert rows[0]["data"]["name"] == 'Grüße ✓ "quoted"' and rows[0]["metadata"] == meta
