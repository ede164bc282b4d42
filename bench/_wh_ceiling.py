"""Ceiling (a) of bench/webhook_throughput.py: one Order Processing run's SQL, bare asyncpg.

``connections`` clients, one connection each, each applying its own orders' events in
lifecycle order (the same mix as the wrk script). Per event, what the workflow runs:
one transaction of lock_order + load_snapshot + store_event + (reducer) + save_snapshot,
then correlate (payments only) and index_search on their own, as the workflow does. The
SQL is read from the template (``workflow_sql``), parameters bound as the Database
block binds them. No run log, no HTTP, no engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
import uuid
from typing import Any

import asyncpg

from bench._wh_load import event_body, flow_of
from engine.database import init_connection
from templates import LIB
from templates.event_store import workflow_sql

if str(LIB) not in sys.path:
    sys.path.append(str(LIB))
from order_events import apply_event  # noqa: E402

BLOCKS = (
    "lock_order",
    "load_snapshot",
    "store_event",
    "save_snapshot",
    "correlate",
    "index_search",
)
CAPTURE_BODY = {"id": "ch_bench", "status": "succeeded", "captured": True}


def _enrich(body: dict[str, Any], key: str) -> dict[str, Any]:
    """What the workflow's enrich block makes of a delivery (event id from the key)."""
    data = dict(body)
    event_type, order_id = data.pop("event_type"), data.pop("order_id")
    now = dt.datetime.now(dt.UTC).isoformat()
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowyard:order-event:{key}")),
        "event_type": event_type,
        "event_version": 1,
        "aggregate_id": order_id,
        "aggregate_type": "order",
        "data": data,
        "metadata": {"user_id": data.get("user_id"), "timestamp": now},
    }


async def _client(
    conn: asyncpg.Connection, prefix: str, deadline: float, stmts: dict[str, Any]
) -> int:
    done = n = 0
    while time.perf_counter() < deadline:
        n += 1
        order = f"{prefix}-{n}"
        for event_type in flow_of(n):
            if time.perf_counter() >= deadline:
                break
            await _one_event(conn, stmts, event_body(event_type, order, n), f"{order}-{done}")
            done += 1
    return done


async def _one_event(
    conn: asyncpg.Connection, stmts: dict[str, Any], body: dict[str, Any], key: str
) -> None:
    ev = _enrich(body, key)
    vals: dict[str, Any] = {f"<enrich.{k}>": v for k, v in ev.items()}
    vals["<enrich.data.charge_id?>"] = ev["data"].get("charge_id")

    def args(block: str) -> list[Any]:
        return [vals.get(ref) for ref in stmts[block][1]]

    async with conn.transaction():
        await conn.fetch(stmts["lock_order"][0], *args("lock_order"))
        snap = await conn.fetchrow(stmts["load_snapshot"][0], *args("load_snapshot"))
        vals["<load_snapshot.version?>"] = snap["version"] if snap else None
        vals["<load_snapshot.replaces_payment?>"] = snap["replaces_payment"] if snap else None
        stored = await conn.fetchrow(stmts["store_event"][0], *args("store_event"))
        state = apply_event(snap["state"] if snap else None, ev)
        version = stored["aggregate_version"]
        vals |= {
            "<apply.state>": state,
            "<apply.status>": state["status"],
            "<apply.version>": version,
            "<apply.keep_history>": version % 100 == 0,
            "<store_event.sequence_number>": stored["sequence_number"],
            "<apply.state.customer.email?>": (state.get("customer") or {}).get("email"),
            "<apply.state.customer.last_name?>": (state.get("customer") or {}).get("last_name"),
            "<apply.state.total_cents?>": state.get("total_cents"),
        }
        await conn.fetch(stmts["save_snapshot"][0], *args("save_snapshot"))
    if ev["event_type"] == "payment_received":
        vals |= {"<capture.ok?>": True, "<capture.status?>": 200, "<capture.body?>": CAPTURE_BODY,
                 "<confirm.confirmed?>": True}  # fmt: skip
        await conn.fetch(stmts["correlate"][0], *args("correlate"))
    await conn.fetch(stmts["index_search"][0], *args("index_search"))


async def sql_ceiling(url: str, connections: int, duration: float, prefix: str) -> float:
    """Events (= transactions) per second over ``duration`` seconds at ``connections``."""
    stmts = {b: workflow_sql("order_processing", b) for b in BLOCKS}
    conns = [await asyncpg.connect(url) for _ in range(connections)]
    try:
        for conn in conns:
            await init_connection(conn)
        t0 = time.perf_counter()
        deadline = t0 + duration
        counts = await asyncio.gather(
            *(_client(c, f"{prefix}-{i}", deadline, stmts) for i, c in enumerate(conns))
        )
        return sum(counts) / (time.perf_counter() - t0)
    finally:
        for conn in conns:
            await conn.close()
