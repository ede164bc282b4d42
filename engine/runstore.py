"""The run log: ``flowyard_runs`` (one row per run, for fast status) and
``flowyard_run_events`` (append-only; every run and block transition).

Writes are buffered per run and flushed in one multi-row statement: before a
block with effects outside the run starts, every ``FLUSH_INTERVAL`` while a run
is live, and when it ends ("checkpoint before side effects", DESIGN.md 4).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import orjson

MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS flowyard_workflow_versions (
        hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        file TEXT NOT NULL,
        source JSONB NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS flowyard_runs (
        execution_id UUID PRIMARY KEY,
        workflow TEXT NOT NULL,
        workflow_hash TEXT,
        status TEXT NOT NULL,
        trigger TEXT NOT NULL DEFAULT 'manual',
        input JSONB,
        idempotency_key TEXT,
        output JSONB,
        error JSONB,
        owner TEXT,
        heartbeat_at TIMESTAMPTZ,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ
    );
    -- A repeated delivery (same workflow, same key) finds the first run.
    CREATE UNIQUE INDEX IF NOT EXISTS flowyard_runs_idempotency
        ON flowyard_runs (workflow, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX IF NOT EXISTS flowyard_runs_by_workflow ON flowyard_runs (workflow, created_at DESC);
    CREATE INDEX IF NOT EXISTS flowyard_runs_created ON flowyard_runs (created_at DESC);
    CREATE INDEX IF NOT EXISTS flowyard_runs_unfinished
        ON flowyard_runs (status) WHERE status IN ('queued', 'running');

    CREATE TABLE IF NOT EXISTS flowyard_run_events (
        id BIGSERIAL PRIMARY KEY,
        execution_id UUID NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        block TEXT,
        data JSONB,
        at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (execution_id, seq)
    );
    -- The run log is append-only: history is evidence, so changing it is an error.
    -- The one exception is retention (engine/retention.py), which deletes whole old
    -- runs inside a transaction that sets flowyard.pruning.
    CREATE OR REPLACE FUNCTION flowyard_run_events_append_only() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('flowyard.pruning', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'flowyard_run_events is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$ LANGUAGE plpgsql;
    DROP TRIGGER IF EXISTS flowyard_run_events_no_change ON flowyard_run_events;
    CREATE TRIGGER flowyard_run_events_no_change BEFORE UPDATE OR DELETE ON flowyard_run_events
        FOR EACH ROW EXECUTE FUNCTION flowyard_run_events_append_only();
    """,
]

FINAL_STATUSES = ("succeeded", "failed", "cancelled")


async def migrate(pool: asyncpg.Pool) -> None:
    """Apply flowyard's own schema; idempotent, serialized across processes."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7146001)")
        for sql in MIGRATIONS:
            await conn.execute(sql)


def new_execution_id() -> str:
    return str(uuid.uuid4())


_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False)
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """Compact JSON; orjson for speed (recording is on every run's hot path), the
    standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return _ENCODER.encode(value)


class Redactor:
    """Replaces secret values (as they appear in JSON text) with ``***``."""

    __slots__ = ("secrets",)

    def __init__(self, secrets: set[str]) -> None:
        self.secrets = secrets

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if len(secret) < 4:
                continue  # too short to redact without mangling unrelated text
            escaped = json.dumps(secret)[1:-1]
            if escaped in text:
                text = text.replace(escaped, "***")
        return text


_INSERT_EVENTS = """
    INSERT INTO flowyard_run_events (execution_id, seq, type, block, data, at)
    SELECT $1::uuid, s, t, b, d::jsonb, to_timestamp(a)
    FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::float8[]) AS u(s, t, b, d, a)
"""

_FINISH_RUN = f"""
    WITH ev AS ({_INSERT_EVENTS.strip()})
    UPDATE flowyard_runs SET status = $7, output = $8::text::jsonb, error = $9::text::jsonb,
        started_at = COALESCE(started_at, to_timestamp($10)), finished_at = clock_timestamp()
    WHERE execution_id = $1::uuid
"""

_START_RUN = f"""
    WITH ev AS ({_INSERT_EVENTS.strip()})
    UPDATE flowyard_runs SET status = 'running', started_at = COALESCE(started_at, to_timestamp($7))
    WHERE execution_id = $1::uuid AND status IN ('queued', 'running')
"""


class RunRecorder:
    """Buffers one run's events and writes them in one statement per flush."""

    def __init__(
        self, pool: asyncpg.Pool, execution_id: str, secrets: set[str], next_seq: int = 1
    ) -> None:
        self.pool = pool
        self.execution_id = execution_id
        self.redact = Redactor(secrets)
        self.seq = next_seq
        self._buf: list[tuple[int, str, str | None, str, float]] = []
        self._started_at: float | None = None
        self._start_pending = False
        # Flushes are serialized so events commit in seq order (live readers poll by seq).
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def add(self, type_: str, block: str | None = None, data: dict[str, Any] | None = None) -> None:
        text = dumps(data) if data else "{}"
        if self.redact.secrets:
            text = self.redact(text)
        self._buf.append((self.seq, type_, block, text, time.time()))
        self.seq += 1

    def started(self) -> None:
        self._started_at = time.time()
        self._start_pending = True
        self.add("run_started")

    def _columns(self) -> list[Any]:
        buf = self._buf
        return [
            [e[0] for e in buf],
            [e[1] for e in buf],
            [e[2] for e in buf],
            [e[3] for e in buf],
            [e[4] for e in buf],
        ]

    async def flush(self) -> None:
        async with self._lock:
            if not self._buf and not self._start_pending:
                return
            cols, self._buf = self._columns(), []
            if self._start_pending:
                self._start_pending = False
                await self.pool.execute(_START_RUN, self.execution_id, *cols, self._started_at)
            else:
                await self.pool.execute(_INSERT_EVENTS, self.execution_id, *cols)

    async def write_in(self, conn: asyncpg.Connection, type_: str, data: dict[str, Any]) -> None:
        """Append the buffer and one more event on ``conn``, inside the caller's transaction.

        Uses the caller's connection, not the pool: a transaction about to commit
        must never wait for a pool connection that other runs' transactions hold.
        """
        async with self._lock:
            self.add(type_, None, data)
            cols, self._buf = self._columns(), []
            await conn.execute(_INSERT_EVENTS, self.execution_id, *cols)

    async def finish(self, status: str, output: Any, error: Any) -> None:
        """Write the remaining events and the run's final status in one statement."""
        out_text = self.redact(dumps(output)) if output is not None else None
        err_text = self.redact(dumps(error)) if error is not None else None
        async with self._lock:
            cols, self._buf = self._columns(), []
            await self.pool.execute(
                _FINISH_RUN,
                self.execution_id,
                *cols,
                status,
                out_text,
                err_text,
                self._started_at or time.time(),
            )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def fetch_events(
    pool: asyncpg.Pool, execution_id: str, after: int = 0, limit: int = 10000
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT seq, type, block, data, at FROM flowyard_run_events"
        " WHERE execution_id = $1::uuid AND seq > $2 ORDER BY seq LIMIT $3",
        execution_id,
        after,
        limit,
    )
    return [
        {
            "seq": r["seq"],
            "type": r["type"],
            "block": r["block"],
            "data": r["data"],
            "at": _iso(r["at"]),
        }
        for r in rows
    ]


async def fetch_run_row(pool: asyncpg.Pool, execution_id: str) -> asyncpg.Record | None:
    try:
        uuid.UUID(str(execution_id))
    except ValueError:
        return None
    return await pool.fetchrow(
        "SELECT * FROM flowyard_runs WHERE execution_id = $1::uuid", execution_id
    )


def run_summary(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "execution_id": str(row["execution_id"]),
        "workflow": row["workflow"],
        "status": row["status"],
        "trigger": row["trigger"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "error": row["error"],
    }


def blocks_from_events(
    events: list[dict[str, Any]], top_level_only: bool = True
) -> dict[str, dict[str, Any]]:
    """Fold block events into per-block records (status, attempts, timings, output, error)."""
    blocks: dict[str, dict[str, Any]] = {}
    for ev in events:
        path = ev["block"]
        if path is None or (top_level_only and ("[" in path or "." in path)):
            continue
        rec = blocks.setdefault(
            path,
            {
                "status": "pending",
                "attempts": 0,
                "duration_ms": None,
                "started_at": None,
                "output": None,
                "error": None,
                "inputs": None,
            },
        )
        data = ev["data"] or {}
        kind = ev["type"]
        if kind == "block_started":
            rec["status"] = "running"
            rec["attempts"] = data.get("attempt", rec["attempts"] + 1)
            rec["started_at"] = rec["started_at"] or ev["at"]
        elif kind in ("block_succeeded", "block_failed"):
            rec["status"] = "succeeded" if kind == "block_succeeded" else "failed"
            for key in ("output", "error", "duration_ms", "inputs", "attempts", "port"):
                if key in data:
                    rec[key] = data[key]
            rec["finished_at"] = ev["at"]
        elif kind == "block_skipped":
            rec["status"] = "skipped"
        elif kind == "block_retrying":
            rec["attempts"] = data.get("attempt", rec["attempts"])
    return blocks


async def run_result(pool: asyncpg.Pool, execution_id: str) -> dict[str, Any] | None:
    """The SPEC's run result, read back from the run row and its events."""
    row = await fetch_run_row(pool, execution_id)
    if row is None:
        return None
    events = await fetch_events(pool, execution_id)
    result = run_summary(row)
    result["file"] = await pool.fetchval(
        "SELECT file FROM flowyard_workflow_versions WHERE hash = $1", row["workflow_hash"]
    )
    result["input"] = row["input"]
    result["output"] = row["output"]
    result["blocks"] = blocks_from_events(events)
    return result
