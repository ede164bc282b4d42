"""The event store's SQL on a real PostgreSQL: append-only, idempotent appends,
per-order versions, and subscribers that never skip a committed event."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from templates import apply_schemas, schema_files

ROOT = Path(__file__).resolve().parents[2]

INSERT = """
INSERT INTO events (event_id, event_type, aggregate_id, aggregate_version, data, metadata)
VALUES ($1, $2, $3, $4, $5::jsonb, '{}'::jsonb)
ON CONFLICT (event_id) DO NOTHING
RETURNING sequence_number
"""


async def _append(
    conn: asyncpg.Connection, order: str, version: int, event_id: uuid.UUID | None = None
) -> int | None:
    return await conn.fetchval(
        INSERT, event_id or uuid.uuid4(), "item_added", order, version, json.dumps({"v": version})
    )


async def test_schema_is_idempotent(event_db: str) -> None:
    conn = await asyncpg.connect(event_db)
    try:
        await _append(conn, "idem-1", 1)
        # The fixture applied it twice already; a third time keeps data intact.
        await apply_schemas(conn)
        assert await conn.fetchval("SELECT count(*) FROM events WHERE aggregate_id = 'idem-1'") == 1
        indexes = {
            r["indexname"]
            for r in await conn.fetch("SELECT indexname FROM pg_indexes WHERE tablename = 'events'")
        }
        # The contract's three, and no more than readers need: each slows every append.
        assert indexes == {
            "events_pkey",
            "events_event_id_key",
            "events_aggregate_version_key",
            "events_transaction_idx",
            "events_aggregate_sequence_idx",
            "events_type_created_idx",
            "events_created_idx",
        }
        # An older installation's B-tree on created_at becomes the BRIN index.
        await conn.execute(
            "DROP INDEX events_created_idx; CREATE INDEX events_created_idx ON events (created_at)"
        )
        await apply_schemas(conn)
        created = "SELECT indexdef FROM pg_indexes WHERE indexname = 'events_created_idx'"
        assert "USING brin (created_at)" in await conn.fetchval(created)
        # An older installation's consistency_checks, without `reasons`, gets it.
        await conn.execute("ALTER TABLE consistency_checks DROP COLUMN reasons")
        await apply_schemas(conn)
        column = (
            "SELECT data_type FROM information_schema.columns"
            " WHERE table_name = 'consistency_checks' AND column_name = 'reasons'"
        )
        assert await conn.fetchval(column) == "jsonb"
        for table in (
            "order_snapshots",
            "order_snapshot_history",
            "event_correlations",
            "consistency_checks",
        ):
            assert await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
    finally:
        await conn.close()
    assert [p.name for p in schema_files()] == ["schema.sql"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET event_type = 'forged' WHERE aggregate_id = 'ro-1'",
        "DELETE FROM events WHERE aggregate_id = 'ro-1'",
        "TRUNCATE events CASCADE",
    ],
)
async def test_update_delete_truncate_fail_clearly(event_db: str, statement: str) -> None:
    conn = await asyncpg.connect(event_db)
    try:
        if not await conn.fetchval("SELECT count(*) FROM events WHERE aggregate_id = 'ro-1'"):
            await _append(conn, "ro-1", 1)
        with pytest.raises(
            asyncpg.RestrictViolationError,
            match=r"events is append-only: (UPDATE|DELETE|TRUNCATE) is not allowed",
        ):
            await conn.execute(statement)
        row = await conn.fetchrow("SELECT event_type FROM events WHERE aggregate_id = 'ro-1'")
        assert row["event_type"] == "item_added"
    finally:
        await conn.close()


async def test_a_plain_truncate_is_refused_as_the_docs_say(event_db: str) -> None:
    """Black-box report: docs/event-sourcing.md said TRUNCATE raises the append-only
    message, but without CASCADE PostgreSQL refuses it first (the tables referencing
    events), before any trigger runs. Either way nothing is emptied; the docs quote
    both refusals."""
    conn = await asyncpg.connect(event_db)
    try:
        if not await conn.fetchval("SELECT count(*) FROM events WHERE aggregate_id = 'ro-2'"):
            await _append(conn, "ro-2", 1)
        with pytest.raises(asyncpg.FeatureNotSupportedError) as refused:
            await conn.execute("TRUNCATE events")
        assert refused.value.sqlstate == "0A000"
        assert await conn.fetchval("SELECT count(*) FROM events WHERE aggregate_id = 'ro-2'") == 1
    finally:
        await conn.close()
    docs = (ROOT / "docs" / "event-sourcing.md").read_text(encoding="utf-8")
    section = docs.split("## Append-only, loudly", 1)[1].split("\n## ", 1)[0]
    said = " ".join(section.split())  # as one line: the docs wrap their sentences
    assert f"`0A000 {refused.value.args[0]}`" in said
    assert "`TRUNCATE events CASCADE`" in said


async def test_duplicate_event_id_appends_nothing(event_db: str) -> None:
    conn = await asyncpg.connect(event_db)
    try:
        eid = uuid.uuid4()
        first = await _append(conn, "dup-1", 1, eid)
        assert first is not None
        for _ in range(2):
            assert await _append(conn, "dup-1", 2, eid) is None
        assert await conn.fetchval("SELECT count(*) FROM events WHERE event_id = $1", eid) == 1
    finally:
        await conn.close()


async def test_one_position_per_order_version(event_db: str) -> None:
    """Two appends claiming the same place in one order's stream cannot both land."""
    conn = await asyncpg.connect(event_db)
    try:
        await _append(conn, "ver-1", 1)
        with pytest.raises(asyncpg.UniqueViolationError, match="events_aggregate_version_key"):
            await _append(conn, "ver-1", 1)
    finally:
        await conn.close()


async def _naive_poll(conn: asyncpg.Connection, cursor: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT sequence_number FROM events WHERE sequence_number > $1 AND aggregate_id LIKE 'inv-%' ORDER BY 1",
        cursor,
    )
    return [r[0] for r in rows]


async def _safe_poll(conn: asyncpg.Connection, cursor: tuple[str, int]) -> list[asyncpg.Record]:
    return [
        r
        for r in await conn.fetch(
            "SELECT transaction_id::text AS xid, sequence_number, aggregate_id FROM events_after($1::text::xid8, $2, 1000)",
            *cursor,
        )
        if r["aggregate_id"].startswith("inv-")
    ]


async def test_commit_order_inversion_never_skips_an_event(event_db: str) -> None:
    """A takes sequence n, B takes n+1 and commits first: a reader paging by
    sequence alone skips A's event for ever; events_after() does not."""
    a, b, reader = [await asyncpg.connect(event_db) for _ in range(3)]
    try:
        naive_cursor = await reader.fetchval("SELECT coalesce(max(sequence_number), 0) FROM events")
        safe_cursor: tuple[str, int] = ("0", 0)
        for r in await _safe_poll(reader, safe_cursor):  # catch up on earlier tests' events
            safe_cursor = (r["xid"], r["sequence_number"])

        ta, tb = a.transaction(), b.transaction()
        await ta.start()
        await tb.start()
        seq_a = await _append(a, "inv-a", 1)
        seq_b = await _append(b, "inv-b", 1)
        assert seq_a is not None and seq_b is not None and seq_a < seq_b
        await tb.commit()  # B commits first, out of sequence order

        naive_seen = await _naive_poll(reader, naive_cursor)
        assert naive_seen == [seq_b]
        naive_cursor = naive_seen[-1]
        # The safe reader holds back: A's transaction is still open below B's.
        assert await _safe_poll(reader, safe_cursor) == []

        await ta.commit()
        assert await _naive_poll(reader, naive_cursor) == []  # the naive reader lost A's event
        seen = await _safe_poll(reader, safe_cursor)
        assert [r["sequence_number"] for r in seen] == [seq_a, seq_b]
        safe_cursor = (seen[-1]["xid"], seen[-1]["sequence_number"])
        assert await _safe_poll(reader, safe_cursor) == []
    finally:
        for c in (a, b, reader):
            await c.close()


async def test_rolled_back_append_leaves_a_gap_not_a_hole_in_the_cursor(event_db: str) -> None:
    """A rolled-back append burns a sequence number; readers just move past it."""
    a, reader = await asyncpg.connect(event_db), await asyncpg.connect(event_db)
    try:
        last = await reader.fetchrow(
            "SELECT transaction_id::text AS xid, sequence_number FROM events ORDER BY transaction_id DESC, sequence_number DESC LIMIT 1"
        )
        tr = a.transaction()
        await tr.start()
        await _append(a, "gap-1", 1)
        await tr.rollback()
        kept = await _append(a, "gap-2", 1)
        rows = await reader.fetch(
            "SELECT sequence_number FROM events_after($1::text::xid8, $2, 100)",
            last["xid"],
            last["sequence_number"],
        )
        assert [r[0] for r in rows] == [kept]
    finally:
        await a.close()
        await reader.close()
