"""The order event store from Python: batched appends and replay.

For imports, back-fills and benchmarks; live events go through the Order
Processing workflow. Both paths keep the same invariants: per-order lock,
``aggregate_version`` = snapshot version + 1, idempotent ``event_id``, snapshot
and kept snapshots written in the append's transaction, one reducer.

The replay SQL is read from the Replay Events workflow file (and its references
bound exactly as the Database block binds them), so what is measured here is
what the template runs.
"""

from __future__ import annotations

import io
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import yaml

from templates import LIB, ROOT

if str(LIB) not in sys.path:
    sys.path.append(str(LIB))
import order_events  # noqa: E402 - lives in templates/lib for the Function blocks

DEFAULT_SNAPSHOT_EVERY = 100
_COPY_COLUMNS = (
    "event_id",
    "event_type",
    "event_version",
    "aggregate_id",
    "aggregate_type",
    "aggregate_version",
    "data",
    "metadata",
)


@cache
def workflow_sql(template: str, block: str) -> tuple[str, tuple[str, ...]]:
    """A Database block's query as ``$n`` SQL plus the reference text per ``$n``."""
    from engine.references import rewrite_sql

    doc = yaml.safe_load((ROOT / template / "workflow.yaml").read_text(encoding="utf-8"))
    sql, refs = rewrite_sql(doc["blocks"][block]["query"])
    return sql, tuple(r.text for r in refs)


def _bind(names: Sequence[str], values: Mapping[str, Any]) -> list[Any]:
    return [values.get(n) for n in names]


async def replay(
    conn: Any,
    order_id: str,
    *,
    as_of: Any = None,
    version: int | None = None,
    from_start: bool = False,
) -> dict[str, Any]:
    """Fold an order's events from the newest kept snapshot at or before the point.

    Returns ``{state, version, replayed, from_version}`` like the workflow's
    ``compare`` step. ``conn`` needs the json/jsonb codecs (engine.database).
    """
    values = {
        "<input.order_id>": order_id,
        "<input.as_of?>": as_of,
        "<input.version?>": version,
        "<input.from_start?>": from_start,
    }
    sql, names = workflow_sql("replay_events", "load_base")
    base = await conn.fetchrow(sql, *_bind(names, values))
    values["<load_base.version?>"] = base["version"] if base else None
    sql, names = workflow_sql("replay_events", "load_events")
    rows = await conn.fetch(sql, *_bind(names, values))
    state = base["state"] if base else None
    apply = order_events.apply_event
    for row in rows:  # a Record is a read-only mapping: the reducer takes it as it is
        state = apply(state, row)
    start = base["version"] if base else 0
    return {
        "state": state,
        "version": start + len(rows),
        "replayed": len(rows),
        "from_version": base["version"] if base else None,
    }


def _lock_key(order_id: str) -> str:
    # The text the workflows hash (lock_order): both paths must take the same lock.
    return f"flowyard:order:{order_id}"


async def append_batch(
    conn: Any,
    events: Iterable[Mapping[str, Any]],
    *,
    snapshot_every: int = DEFAULT_SNAPSHOT_EVERY,
) -> int:
    """Append many events in one transaction with COPY; return how many were new.

    Each event is ``{event_type, aggregate_id, data, metadata?, event_id?,
    event_version?}``. Events of one order are applied in the order given. An
    ``event_id`` already stored (or repeated in the batch) is skipped, as in the
    live workflow. The orders' snapshots and kept snapshots are written in the
    same transaction, so the live path continues at the right version.
    """
    batch = [dict(e) for e in events]
    orders = sorted({str(e["aggregate_id"]) for e in batch})
    async with conn.transaction():
        # One statement, locks taken in a fixed order: two batches cannot deadlock.
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))"
            " FROM (SELECT k FROM unnest($1::text[]) AS k ORDER BY k) AS s",
            [_lock_key(o) for o in orders],
        )
        given = [uuid.UUID(str(e["event_id"])) for e in batch if e.get("event_id")]
        known = set()
        if given:
            known = {
                r[0]
                for r in await conn.fetch(
                    "SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])", given
                )
            }
        snaps = {
            r["order_id"]: (r["version"], r["state"])
            for r in await conn.fetch(
                "SELECT order_id, version, state FROM order_snapshots"
                " WHERE order_id = ANY($1::text[]) FOR UPDATE",
                orders,
            )
        }
        kept: list[tuple[str, int, Any]] = []
        touched: set[str] = set()
        counter = [0]

        async def rows() -> AsyncIterator[bytes]:
            """COPY text rows, built in chunks while the server ingests the last."""
            fresh = os.urandom(16 * len(batch))
            chunk: list[str] = []
            for i, ev in enumerate(batch):
                raw = ev.get("event_id")
                eid = (
                    uuid.UUID(str(raw))
                    if raw
                    else uuid.UUID(bytes=fresh[16 * i : 16 * i + 16], version=4)
                )
                if eid in known:
                    continue
                known.add(eid)
                order = str(ev["aggregate_id"])
                v, state = snaps.get(order, (0, None))
                v += 1
                ev["event_id"], ev["event_version"] = str(eid), int(ev.get("event_version") or 1)
                state = order_events.apply_event(state, ev)
                snaps[order] = (v, state)
                touched.add(order)
                if v % snapshot_every == 0:
                    kept.append((order, v, state))
                meta = ev.get("metadata")
                chunk.append(
                    f"{eid}\t{_text(ev['event_type'])}\t{ev['event_version']}\t{_text(order)}\torder\t{v}"
                    f"\t{_json(ev.get('data') or {})}\t{_json(meta) if meta else '{}'}\n"
                )
                counter[0] += 1
                if len(chunk) >= 5000:
                    yield "".join(chunk).encode()
                    chunk = []
            if chunk:
                yield "".join(chunk).encode()

        # COPY's text format: independent of the codecs set on this connection.
        await conn.copy_to_table("events", source=rows(), columns=_COPY_COLUMNS, format="text")
        if touched:
            await _write_snapshots(conn, {o: snaps[o] for o in touched}, kept)
    return counter[0]


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    return str(value).translate(_COPY_ESCAPES)


def _json(value: Any) -> str:
    # json.dumps escapes control characters itself; only backslashes need doubling.
    return json.dumps(value, separators=(",", ":")).replace("\\", "\\\\")


def _copy_text(records: list[tuple[Any, ...]]) -> io.BytesIO:
    """Rows in COPY text format (tab-separated, backslash escapes)."""
    lines = ("\t".join(str(v).translate(_COPY_ESCAPES) for v in r) for r in records)
    return io.BytesIO(("\n".join(lines) + "\n").encode())


async def _write_snapshots(
    conn: Any, snaps: dict[str, tuple[int, Any]], kept: list[tuple[str, int, Any]]
) -> None:
    await conn.execute(
        """
        INSERT INTO order_snapshots AS s (order_id, version, state, last_event_sequence,
                                          last_event_id, last_event_at, updated_at)
        SELECT e.aggregate_id, e.aggregate_version, u.state::jsonb, e.sequence_number,
               e.event_id, e.created_at, clock_timestamp()
          FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(order_id, version, state)
          JOIN events e ON e.aggregate_type = 'order' AND e.aggregate_id = u.order_id
                       AND e.aggregate_version = u.version
        ON CONFLICT (order_id) DO UPDATE
           SET version = EXCLUDED.version, state = EXCLUDED.state,
               last_event_sequence = EXCLUDED.last_event_sequence,
               last_event_id = EXCLUDED.last_event_id,
               last_event_at = EXCLUDED.last_event_at, updated_at = EXCLUDED.updated_at
        """,
        list(snaps),
        [v for v, _ in snaps.values()],
        [json.dumps(s) for _, s in snaps.values()],
    )
    if kept:
        await conn.execute(
            """
            INSERT INTO order_snapshot_history (order_id, version, state, last_event_sequence, last_event_at)
            SELECT e.aggregate_id, e.aggregate_version, u.state::jsonb, e.sequence_number, e.created_at
              FROM unnest($1::text[], $2::bigint[], $3::text[]) AS u(order_id, version, state)
              JOIN events e ON e.aggregate_type = 'order' AND e.aggregate_id = u.order_id
                           AND e.aggregate_version = u.version
            ON CONFLICT (order_id, version) DO NOTHING
            """,
            [k[0] for k in kept],
            [k[1] for k in kept],
            [json.dumps(k[2]) for k in kept],
        )
