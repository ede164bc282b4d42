"""A batch judges and stores numbers as jsonb does, integers beyond 64 bits too.

Verification report: an order's ``item_added`` carrying ``"ref":
98765432109876543210987`` (stored exactly by the live webhook, as jsonb keeps
it) was refused by a batch repeating it ("already stored … with a different
event"), the float ``9.876543210987654e+22`` under the same id was skipped as a
repeat (jsonb says the two differ, and the live workflow refuses it), and a new
event with ``2**70`` failed with a bare ``TypeError: Integer exceeds 64-bit
range``. The stored data was read with orjson (an integer beyond 64 bits becomes
a float) and written with it (it refuses one).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from es_support import deliver, lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer

from engine.database import init_connection
from templates.event_store import append_batch

BIG = 98765432109876543210987
BIG_AS_FLOAT = 9.876543210987654e22  # what a decoder without exact integers reads


@pytest.fixture
def json_equal(lib_path: Path) -> Any:
    from order_events import json_equal

    return json_equal


async def _live_item(rt: Any, order: str, event_id: str, ref: Any) -> dict[str, Any]:
    """Deliver an item_added through the webhook; return the data stored for it."""
    await deliver(rt, {"event_type": "item_added", "order_id": order, "event_id": event_id,
                       "sku": "B", "ref": ref})  # fmt: skip
    return await rt.db.pool.fetchval("SELECT data FROM events WHERE event_id = $1::uuid", event_id)


async def test_a_batch_repeats_judge_a_big_integer_as_the_live_path_does(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    order = f"big-{uuid.uuid4().hex[:8]}"
    await deliver(es_runtime, lifecycle(order)[0])
    exact_id, float_id = str(uuid.uuid4()), str(uuid.uuid4())
    stored = await _live_item(es_runtime, order, exact_id, BIG)
    assert stored["ref"] == BIG and type(stored["ref"]) is int
    # A float the sender wrote: jsonb keeps the number its text spells, and prints
    # it as 10000000000000000000000000 (no exponent, no fraction).
    stored_float = await _live_item(es_runtime, order, float_id, 1e25)
    assert stored_float["ref"] == 10**25

    def item(event_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"event_type": "item_added", "aggregate_id": order, "data": data,
                "event_id": event_id}  # fmt: skip

    async with es_runtime.db.pool.acquire() as conn:
        # The same events: repeats, answered with nothing appended.
        assert await append_batch(conn, [item(exact_id, {**stored, "ref": BIG})]) == 0
        assert await append_batch(conn, [item(float_id, {**stored_float, "ref": 1e25})]) == 0
        # A different number under the stored id: refused, as the live workflow refuses it.
        with pytest.raises(ValueError, match=f"event_id {exact_id} is already stored"):
            await append_batch(conn, [item(exact_id, {**stored, "ref": BIG_AS_FLOAT})])
    refused = await submit(
        es_runtime,
        {"event_type": "item_added", "order_id": order, "event_id": exact_id, "sku": "B",
         "ref": BIG_AS_FLOAT},
    )  # fmt: skip
    assert refused["status"] == "failed"
    versions = "SELECT count(*), max(aggregate_version) FROM events WHERE aggregate_id = $1"
    assert tuple(await es_runtime.db.pool.fetchrow(versions, order)) == (3, 3)


@pytest.fixture
async def conn(event_db: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(event_db)
    await init_connection(connection)
    try:
        yield connection
    finally:
        await connection.close()


async def test_a_batch_stores_integers_beyond_64_bits_exactly(conn: asyncpg.Connection) -> None:
    order = f"big-{uuid.uuid4().hex[:8]}"
    evs = [
        {"event_type": "order_created", "aggregate_id": order, "data": {"first_name": "Ada"}},
        {"event_type": "item_added", "aggregate_id": order, "data": {"sku": "B", "ref": 2**70},
         "metadata": {"import_batch": 2**64}, "event_id": str(uuid.uuid4())},
    ]  # fmt: skip
    assert await append_batch(conn, evs, snapshot_every=2) == 2
    row = await conn.fetchrow(
        "SELECT data->>'ref' AS ref, metadata->>'import_batch' AS batch FROM events"
        " WHERE aggregate_id = $1 AND aggregate_version = 2",
        order,
    )
    assert (row["ref"], row["batch"]) == (str(2**70), str(2**64))
    # The head and the kept snapshot (version 2 is a multiple of snapshot_every).
    for table, key in (("order_snapshots", "order_id"), ("order_snapshot_history", "order_id")):
        ref = await conn.fetchval(
            f"SELECT state->'items'->0->>'ref' FROM {table} WHERE {key} = $1", order
        )
        assert ref == str(2**70)
    assert await append_batch(conn, evs[1:]) == 0  # its repeat


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (BIG, BIG),
        (10**25, 1e25),  # jsonb reads the float's text "1e+25": exactly 10**25
        (Decimal("0.1"), 0.1),  # a decoder keeping numeric's precision
        (1152921504606847000, float(2**60)),  # 2**60's float prints as 1.152921504606847e+18
        (BIG, BIG_AS_FLOAT),
        (2**60, float(2**60)),
        (2**53 + 1, float(2**53)),
        (1, 1.0),
    ],
)
async def test_json_equal_agrees_with_jsonb(
    json_equal: Any, conn: asyncpg.Connection, a: Any, b: Any
) -> None:
    def text(value: Any) -> str:
        return str(value) if not isinstance(value, float) else json.dumps(value)

    jsonb_says = await conn.fetchval("SELECT $1::text::jsonb = $2::text::jsonb", text(a), text(b))
    assert json_equal(a, b) is jsonb_says
    assert json_equal(b, a) is jsonb_says
    assert json_equal({"ref": [a]}, {"ref": [b]}) is jsonb_says


async def test_a_repair_indexes_a_total_at_the_bigint_maximum_as_the_live_path_does(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """`enrich` takes `total_cents` up to BIGINT's maximum and the live `index_search`
    stores it; Replay's repair rewrote the order's search index row with a NULL total
    for any total of 19 digits (from 10**18 cents), which the live path kept."""
    stand_ins(httpserver)
    order = f"big-{uuid.uuid4().hex[:8]}"
    top = 2**63 - 1
    await deliver(es_runtime, {**lifecycle(order)[0], "total_cents": top})
    pool = es_runtime.db.pool
    index = "SELECT total_cents FROM order_search_index WHERE order_id = $1"
    assert await pool.fetchval(index, order) == top
    await pool.execute(
        "UPDATE order_snapshots SET state = jsonb_set(state, '{status}', '\"x\"')"
        " WHERE order_id = $1",
        order,
    )
    result = await es_runtime.execute(
        es_runtime.load_workflow("replay_events"), {"order_id": order, "repair": True}
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["repaired"] is True
    assert await pool.fetchval(index, order) == top
