"""flowyard's own tables (the run log), created idempotently on every start."""

from __future__ import annotations

import asyncpg

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
    # The run's concurrency key, kept with it: a process other than the accepting one
    # (serve --engine-process) orders runs by it.
    "ALTER TABLE flowyard_runs ADD COLUMN IF NOT EXISTS concurrency_key TEXT;",
]


async def migrate(pool: asyncpg.Pool) -> None:
    """Apply flowyard's own schema; idempotent, serialized across processes."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7146001)")
        for sql in MIGRATIONS:
            await conn.execute(sql)
