"""The SQL side of bench/webhook_throughput.py: drain, per-scenario figures, correctness."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from engine.database import init_connection
from templates.event_store import replay

RUNS_OF = "r.input->'webhook'->'body'->>'order_id' LIKE $1"


async def drain(url: str, timeout: float) -> bool:
    """Wait (bounded) until no run is queued or running."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = await conn.fetchval(
                "SELECT count(*) FROM flowyard_runs WHERE status IN ('queued', 'running')"
            )
            if left == 0:
                return True
            await asyncio.sleep(0.25)
        return False
    finally:
        await conn.close()


async def scenario_sql(url: str, prefix: str) -> dict[str, Any]:
    """Completed executions/s and "event committed" latency of one scenario's orders."""
    like = prefix + "-%"
    conn = await asyncpg.connect(url)
    try:
        runs = await conn.fetchrow(
            f"""SELECT count(*) AS runs, count(*) FILTER (WHERE status = 'succeeded') AS ok,
                       extract(epoch FROM max(finished_at) - min(created_at)) AS span
                  FROM flowyard_runs r WHERE {RUNS_OF}""",
            like,
        )
        committed = await conn.fetchrow(
            """SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY
                      extract(epoch FROM created_at - (metadata->>'timestamp')::timestamptz)) AS p
                 FROM events WHERE aggregate_id LIKE $1""",
            like,
        )
    finally:
        await conn.close()
    span = float(runs["span"] or 0)
    return {
        "runs": runs["runs"],
        "succeeded": runs["ok"],
        "completed_per_s": runs["ok"] / span if span else 0.0,
        "committed_ms": [v * 1000 for v in committed["p"]] if committed["p"] else [None] * 3,
    }


async def check(url: str, accepted: int, in_flight: int) -> tuple[bool, list[str]]:
    """events == accepted deliveries (runs), every run succeeded, every replay == snapshot."""
    pool = await asyncpg.create_pool(url, min_size=4, max_size=4, init=init_connection)
    assert pool is not None
    try:
        runs = await pool.fetchrow(
            "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'succeeded') AS ok"
            " FROM flowyard_runs WHERE trigger = 'webhook'"
        )
        events = await pool.fetchval("SELECT count(*) FROM events")
        snaps = await pool.fetch("SELECT order_id, version, state FROM order_snapshots")
        bad: list[str] = []

        async def one(chunk: list[Any]) -> None:
            async with pool.acquire() as conn:
                for s in chunk:
                    r = await replay(conn, s["order_id"], from_start=True)
                    if r["version"] != s["version"] or r["state"] != s["state"]:
                        bad.append(s["order_id"])

        await asyncio.gather(*(one(snaps[i::4]) for i in range(4)))
        odd = [s["order_id"] for s in snaps if (s["state"] or {}).get("anomalies")]
        anomalies, reordered = len(odd), 0
        for order_id in odd:  # applied out of arrival order (engine) or sent so (load)?
            rows = await pool.fetch(
                "SELECT event_type, metadata->>'timestamp' AS received FROM events"
                " WHERE aggregate_id = $1 ORDER BY aggregate_version",
                order_id,
            )
            reordered += [r["received"] for r in rows] != sorted(r["received"] for r in rows)
            print(f"  out of order: {order_id}: " + ", ".join(r["event_type"] for r in rows))
            for r in await pool.fetch(
                "SELECT r.input->'webhook'->'body'->>'event_type' AS t, r.created_at, r.started_at,"
                " r.finished_at, e.created_at AS committed FROM flowyard_runs r LEFT JOIN events e"
                " ON e.metadata->>'workflow_execution_id' = r.execution_id::text"
                f" WHERE {RUNS_OF} ORDER BY r.created_at",
                order_id,
            ):
                times = (r[k].strftime("%H:%M:%S.%f") for k in list(r.keys())[1:])
                print(f"    run {r['t']:<17} created/started/finished/committed " + " ".join(times))
    finally:
        await pool.close()
    ok = [
        (
            events == runs["n"],
            f"rows in events {events:,} == accepted deliveries (runs) {runs['n']:,}",
        ),
        (runs["ok"] == runs["n"], f"runs succeeded {runs['ok']:,} of {runs['n']:,}"),
        (
            accepted <= runs["n"] <= accepted + in_flight,
            f"runs {runs['n']:,} = 2xx answers seen by wrk/warm-up {accepted:,}"
            f" + {runs['n'] - accepted} in flight when wrk stopped (<= {in_flight})",
        ),
        (not bad, f"replay == snapshot for {len(snaps) - len(bad):,} of {len(snaps):,} orders"),
        (
            anomalies == 0,
            f"orders with out-of-lifecycle-order events: {anomalies}"
            f" ({reordered} of them applied in an order other than received)",
        ),
    ]
    return all(o for o, _ in ok), [f"  [{'ok' if o else 'FAIL'}] {msg}" for o, msg in ok]
