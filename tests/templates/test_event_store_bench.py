"""bench/event_store.py binds the Order Processing template's statements itself
(bench/_es_append.py), outside the engine. When the template's SQL comes to read a
reference the bench sets no value for, this fails, rather than the bench the next
time someone runs it. Nothing is timed."""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path
from types import ModuleType

import asyncpg
import pytest

from engine.database import init_connection

BENCH_APPEND = Path(__file__).resolve().parents[2] / "bench" / "_es_append.py"


def _bench_append() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_es_append", BENCH_APPEND)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_bench_appends_through_the_templates_current_statements(event_db: str) -> None:
    bench = _bench_append()
    sql = bench.append_statements()
    order = f"bench-{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(event_db)
    try:
        await init_connection(conn)
        for i in range(3):  # the single-append line's transaction
            await bench.append_one(conn, sql, order, {"sku": f"S{i}", "qty": 1})
        store = sql["store_event"]  # the ordering line's: store_event alone
        await conn.fetch(store[0], *bench.bind(store, bench.stored_values(order, 4)))
        versions = await conn.fetch(
            "SELECT aggregate_version FROM events WHERE aggregate_id = $1 ORDER BY 1", order
        )
        snapshot = await conn.fetchrow(
            "SELECT version, state FROM order_snapshots WHERE order_id = $1", order
        )
    finally:
        await conn.close()
    assert [r["aggregate_version"] for r in versions] == [1, 2, 3, 4]
    assert snapshot["version"] == 3
    assert [item["sku"] for item in snapshot["state"]["items"]] == ["S0", "S1", "S2"]


def test_a_reference_the_bench_does_not_set_is_named() -> None:
    bench = _bench_append()
    statement = ("SELECT $1, $2", ("<enrich.aggregate_id>", "<apply.new_setting>"))
    with pytest.raises(LookupError, match=r"<apply\.new_setting>"):
        bench.bind(statement, {"<enrich.aggregate_id>": "o-1"})
