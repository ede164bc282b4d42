"""flowyard's own tables (the run log), created idempotently on every start.

A run's values (its input, output, error, its events' data) and a stored workflow
version's ``source`` are ``json``, not ``jsonb``: ``json`` keeps the text as
written, so a mapping comes back in its key order; ``jsonb`` sorts keys (shorter
first), and whoever reads a run back — the engine process of ``serve
--engine-process``, a worker, a resume, a re-run, a waiter in another process — got
them reordered: a loop over a mapping went another way than in the process that
accepted the run. Nothing in flowyard queries inside them; ``->`` and ``->>`` work
on ``json`` as on ``jsonb``.
"""

from __future__ import annotations

import logging
import time

import asyncpg

from engine import pruned_keys
from engine.deployments import DEPLOYMENT_COLUMN, DEPLOYMENT_OF_JOBS

log = logging.getLogger("flowyard.migrations")

MIGRATIONS: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS flowyard_workflow_versions (
        hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        file TEXT NOT NULL,
        source JSON NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS flowyard_runs (
        execution_id UUID PRIMARY KEY,
        workflow TEXT NOT NULL,
        workflow_hash TEXT,
        status TEXT NOT NULL,
        trigger TEXT NOT NULL DEFAULT 'manual',
        input JSON,
        idempotency_key TEXT,
        output JSON,
        error JSON,
        owner TEXT,
        heartbeat_at TIMESTAMPTZ,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ
    );
    -- A repeated delivery's key: flowyard_runs_idempotency_scoped, below (schema
    -- version 8; until then one index on (workflow, idempotency_key)).
    -- A list's filters: flowyard_runs_listed_by_*, below (schema version 11; until
    -- then flowyard_runs_by_workflow on (workflow, created_at DESC) alone).
    CREATE INDEX IF NOT EXISTS flowyard_runs_created ON flowyard_runs (created_at DESC);
    CREATE INDEX IF NOT EXISTS flowyard_runs_unfinished
        ON flowyard_runs (status) WHERE status IN ('queued', 'running');

    CREATE TABLE IF NOT EXISTS flowyard_run_events (
        id BIGSERIAL PRIMARY KEY,
        execution_id UUID NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        block TEXT,
        data JSON,
        at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (execution_id, seq)
    );
    -- The run log is append-only: history is evidence, so changing it is an error.
    -- The one exception is retention (engine/retention.py), which deletes whole old
    -- runs inside a transaction that sets flowyard.pruning. TRUNCATE (every run's
    -- history at once, and no row trigger fires) is refused always: retention
    -- never truncates.
    CREATE OR REPLACE FUNCTION flowyard_run_events_append_only() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND current_setting('flowyard.pruning', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'flowyard_run_events is append-only: % is not allowed', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END $$ LANGUAGE plpgsql;
    -- Every start runs this file: DDL that locks a table (CREATE TRIGGER, ALTER
    -- TABLE) only runs when needed, or each start would wait behind, and then block,
    -- every running server's run-log writes.
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger
                        WHERE tgname = 'flowyard_run_events_no_change'
                          AND tgrelid = 'flowyard_run_events'::regclass) THEN
            CREATE TRIGGER flowyard_run_events_no_change BEFORE UPDATE OR DELETE
                ON flowyard_run_events
                FOR EACH ROW EXECUTE FUNCTION flowyard_run_events_append_only();
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_trigger
                        WHERE tgname = 'flowyard_run_events_no_truncate'
                          AND tgrelid = 'flowyard_run_events'::regclass) THEN
            CREATE TRIGGER flowyard_run_events_no_truncate BEFORE TRUNCATE
                ON flowyard_run_events
                FOR EACH STATEMENT EXECUTE FUNCTION flowyard_run_events_append_only();
        END IF;
        -- The run's concurrency key, kept with it: a process other than the accepting
        -- one (serve --engine-process, a resume) orders runs by it.
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = current_schema()
                          AND table_name = 'flowyard_runs' AND column_name = 'concurrency_key') THEN
            ALTER TABLE flowyard_runs ADD COLUMN concurrency_key TEXT;
        END IF;
        -- A run's input as accepted, when `input` holds it redacted (a secret the
        -- workflow names was in it): what the run executes with, kept only while it
        -- is unfinished (engine/intake.py). Its end clears it (engine/recorder.py);
        -- `input_redacted` stays, so a re-run knows the input was not kept.
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = current_schema()
                          AND table_name = 'flowyard_runs' AND column_name = 'unredacted_input') THEN
            ALTER TABLE flowyard_runs ADD COLUMN unredacted_input JSON,
                                      ADD COLUMN input_redacted BOOLEAN NOT NULL DEFAULT false;
        END IF;
        -- Schema version 7: a run's values keep their key order (json, above). A
        -- database of an earlier version has them as jsonb: each table is rewritten
        -- once (its rows' keys stay in jsonb's order: that order is all they kept).
        IF EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'flowyard_runs'
                      AND column_name = 'input' AND data_type = 'jsonb') THEN
            ALTER TABLE flowyard_runs ALTER COLUMN input TYPE json USING input::json,
                                      ALTER COLUMN unredacted_input TYPE json
                                            USING unredacted_input::json,
                                      ALTER COLUMN output TYPE json USING output::json,
                                      ALTER COLUMN error TYPE json USING error::json;
        END IF;
        IF EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = 'flowyard_run_events'
                      AND column_name = 'data' AND data_type = 'jsonb') THEN
            ALTER TABLE flowyard_run_events ALTER COLUMN data TYPE json USING data::json;
        END IF;
        -- The run a re-run repeats (the first of a chain of re-runs), NULL for any
        -- other run: <workflow.rerun_of>, so a re-run can name what the run it
        -- repeats named (an event id derived from that run, engine/context.py).
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = current_schema()
                          AND table_name = 'flowyard_runs' AND column_name = 'rerun_of') THEN
            ALTER TABLE flowyard_runs ADD COLUMN rerun_of UUID;
        END IF;
        -- The trigger block a run starts from (engine/triggers.py): the workflow's
        -- other trigger blocks are skipped, by whichever process executes, resumes
        -- or re-runs it. NULL (a run accepted before): every trigger block runs.
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = current_schema()
                          AND table_name = 'flowyard_runs' AND column_name = 'trigger_block') THEN
            ALTER TABLE flowyard_runs ADD COLUMN trigger_block TEXT;
        END IF;
        -- The stored workflow versions too: the process executing a run rebuilds its
        -- workflow from one, and a mapping in a block's config (a loop's literal
        -- items, an HTTP body) or the output went in jsonb's order there. Old rows
        -- stay, under their hashes, for the runs that name them.
        IF EXISTS (SELECT 1 FROM information_schema.columns
                    WHERE table_schema = current_schema()
                      AND table_name = 'flowyard_workflow_versions'
                      AND column_name = 'source' AND data_type = 'jsonb') THEN
            ALTER TABLE flowyard_workflow_versions ALTER COLUMN source TYPE json
                                                  USING source::json;
        END IF;
    END
    $$;
    """,
    # The last tick each schedule block submitted, written by the statement that
    # accepts the tick's run (engine/intake.py). A tick's idempotency key only
    # holds while its run exists: once retention deleted the run, a catch-up
    # would submit the tick again. This row is never pruned; a tick at or before
    # it is never submitted again.
    """
    CREATE TABLE IF NOT EXISTS flowyard_schedule_ticks (
        workflow TEXT NOT NULL,
        block TEXT NOT NULL,
        tick TIMESTAMPTZ NOT NULL,
        execution_id UUID NOT NULL,  -- the run accepted for it (it may be pruned since)
        PRIMARY KEY (workflow, block)
    );
    """,
    # Schema version 8: each trigger block is a namespace of idempotency keys of its
    # own (engine/_key_scopes.py): a repeated delivery finds the first run of
    # the same workflow, scope and key. Until then a key was one per workflow: a
    # webhook delivery could take a schedule tick's key, or another webhook block's.
    # `key_scope` NULL: a run accepted before, whose trigger block is unknown
    # (KEY_SCOPES); its key is matched by its trigger. None is inserted any more.
    """
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = current_schema()
                          AND table_name = 'flowyard_runs' AND column_name = 'key_scope') THEN
            ALTER TABLE flowyard_runs ADD COLUMN key_scope TEXT;
            DROP INDEX IF EXISTS flowyard_runs_idempotency;
        END IF;
    END
    $$;
    CREATE UNIQUE INDEX IF NOT EXISTS flowyard_runs_idempotency_scoped
        ON flowyard_runs (workflow, key_scope, idempotency_key) WHERE idempotency_key IS NOT NULL;
    """,
    # Schema version 9: a pruned run's key is kept, so a resend of its delivery is
    # still a repeat of it (engine/pruned_keys.py). Until then retention freed it.
    pruned_keys.SCHEMA,
    # Schema version 10: the deployment (FLOWYARD_QUEUE) that accepted each run; only
    # its processes execute, resume or take it over (engine/deployments.py).
    DEPLOYMENT_COLUMN,
    # Schema version 11: a list of runs filtered by workflow or status (`GET
    # /api/runs`, the /runs page's poll, `flowyard runs`) reads its page from an index
    # in the list's own order (engine/runstore.py, list_statement). Until then a
    # status had no index, and a workflow's lacked the tie-breaker: on a year's
    # million runs a list of a status no recent run has walked every run (0.3 s),
    # and a prepared list could prefer walking every run to sorting a workflow's.
    """
    CREATE INDEX IF NOT EXISTS flowyard_runs_listed_by_workflow
        ON flowyard_runs (workflow, created_at DESC, execution_id DESC) INCLUDE (status);
    CREATE INDEX IF NOT EXISTS flowyard_runs_listed_by_status
        ON flowyard_runs (status, created_at DESC, execution_id DESC);
    DROP INDEX IF EXISTS flowyard_runs_by_workflow;
    """,
]


#: Until version 4 a run's concurrency key was stored as ``<workflow>:<key>``: keys
#: were one per workflow, and a template's copies, which write the same tables,
#: ran one order's events at once. Every run accepted then gets the key its
#: workflow's next run gets (``<key>``, what the block's reference reads), and so
#: does an unfinished one's queued job's lock: it keeps its place in that key's
#: order. A finished run's too: a re-run keeps its run's key, and must wait its turn
#: with that key's new runs.
GLOBAL_KEYS = """
    CREATE TEMPORARY TABLE flowyard_keys_per_workflow ON COMMIT DROP AS
        SELECT execution_id, concurrency_key AS old,
               substr(concurrency_key, length(workflow) + 2) AS new
          FROM flowyard_runs
         WHERE left(concurrency_key, length(workflow) + 1) = workflow || ':';
    UPDATE flowyard_runs AS r SET concurrency_key = k.new
      FROM flowyard_keys_per_workflow AS k WHERE r.execution_id = k.execution_id;
    DO $$
    DECLARE
        job record;
    BEGIN
        IF to_regclass('procrastinate_jobs') IS NULL THEN
            RETURN;
        END IF;
        UPDATE procrastinate_jobs AS j SET lock = k.new
          FROM flowyard_keys_per_workflow AS k
         WHERE j.task_name = 'flowyard.execute_run' AND j.status = 'todo'
           AND j.args->>'execution_id' = k.execution_id::text AND j.lock = k.old;
        -- A lock is unique among running jobs: two running at once for one key
        -- (two workflows' keys, which are one from now on) cannot both have it.
        FOR job IN
            SELECT j.id, k.new FROM procrastinate_jobs AS j
              JOIN flowyard_keys_per_workflow AS k ON j.args->>'execution_id' = k.execution_id::text
             WHERE j.task_name = 'flowyard.execute_run' AND j.status = 'doing' AND j.lock = k.old
             ORDER BY j.id
        LOOP
            BEGIN
                UPDATE procrastinate_jobs SET lock = job.new WHERE id = job.id;
            EXCEPTION WHEN unique_violation THEN
                NULL;  -- the first of them has it; this one ends with its old lock
            END;
        END LOOP;
    END
    $$;
"""

#: Until version 8 a run's idempotency key was one per workflow. A run that names
#: its trigger block (every run accepted since version 7 that starts from one) gets
#: the scope a run accepted now gets, so a sender's resend of its delivery is still
#: a repeat of it, and only of it. An earlier run's block is unknown (it started
#: from all of them): its scope stays NULL, and its key is matched by its trigger
#: (a webhook delivery's by the workflow's webhook deliveries, as before), until it
#: is pruned (engine/_key_scopes.py).
KEY_SCOPES = """
    UPDATE flowyard_runs SET key_scope = trigger || ':' || trigger_block
     WHERE idempotency_key IS NOT NULL AND trigger_block IS NOT NULL AND key_scope IS NULL;
"""

#: Changes to rows, not to the schema: each is taken once, by a database whose
#: version was below its own (taken again, it would cut a key a second time).
UPGRADES: dict[int, str] = {4: GLOBAL_KEYS, 8: KEY_SCOPES, 10: DEPLOYMENT_OF_JOBS}

#: Raised whenever MIGRATIONS or UPGRADES change, so every database applies them once.
#: 6: flowyard_runs.unredacted_input and input_redacted. 7: a run's values and the
#: stored workflow versions are json; flowyard_runs.rerun_of and trigger_block.
#: 8: flowyard_runs.key_scope, idempotency keys unique per scope. 9: flowyard_pruned_keys.
#: 10: flowyard_runs.queue, the deployment a run belongs to. 11: the run list's
#: indexes by workflow and by status.
SCHEMA_VERSION = 11


class NewerSchema(RuntimeError):
    """The database's recorded schema version is above :data:`SCHEMA_VERSION`: a newer
    flowyard has migrated it. This one does not know what that release changed (a
    column's type, a key's form), so it must not use the database at all."""

    def __init__(self, found: int) -> None:
        super().__init__(newer_schema_message(found))
        self.found = found


def newer_schema_message(found: int) -> str:
    """What a process of this release says about a database at schema version ``found``."""
    return (
        f"the database is at schema version {found}, newer than this flowyard's"
        f" ({SCHEMA_VERSION}): a newer flowyard release has migrated it, and this one cannot"
        " use its tables. Run the newer release (or a later one) on it; nothing was changed"
    )


def migrated_under_us_message(found: int) -> str:
    """What a server of this release, still running, says (its ``/api/health``) once a
    newer release has migrated its database to ``found``. Not :func:`newer_schema_message`:
    a start refused changes nothing, but this server goes on. Not "it still accepts
    deliveries" either: a migration can take away what its statements need (version 8
    replaced the unique index a version-7 server's accepting statement names, and that
    server answered every delivery with a 500), and which one does is not known here."""
    return (
        f"the database is at schema version {found}, newer than this flowyard's"
        f" ({SCHEMA_VERSION}): a newer flowyard release has migrated it while this server"
        " was running. Deliveries and runs this server accepts now may fail (a 500) where"
        " the new tables refuse its statements, or be written to tables whose new form it"
        " does not know: stop it, and run the newer release (or a later one) instead"
    )


async def migrate(pool: asyncpg.Pool) -> None:
    """Apply flowyard's own schema once per version; serialized across processes.

    Every process runs this on start, and even ``CREATE INDEX IF NOT EXISTS`` takes a
    lock on its table: a start would wait for, and then hold up, the run-log writes
    of every running server. A database already at ``SCHEMA_VERSION`` is left alone;
    one above it (migrated by a newer release) raises :class:`NewerSchema`.

    Upgrading a database that holds a run log is logged before it starts and when it
    is done (with its time, WARNING: every command shows it, also those that set up no
    logging): it holds the run-log tables locked, so every other process waits, and
    a version that rewrites them (7) takes longer the larger the run log is.
    """
    async with pool.acquire() as conn:
        if await _current(conn):
            return
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(7146001)")
            if await _current(conn):  # another process migrated it meanwhile
                return
            was = await recorded_version(conn)
            upgrade = await conn.fetchval("SELECT to_regclass('flowyard_runs') IS NOT NULL")
            started = time.monotonic()
            if upgrade:  # a new database's tables are made at once: nothing to say
                log.warning(
                    "migrating the database from %s to %d: flowyard's run-log tables are"
                    " locked until it is done, and this may take a while with a large run"
                    " log (docs/deploy.md, Upgrading)",
                    _named(was),
                    SCHEMA_VERSION,
                )
            for sql in MIGRATIONS:
                await conn.execute(sql)
            for version, sql in sorted(UPGRADES.items()):
                if was < version:
                    await conn.execute(sql)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS flowyard_schema (version INTEGER PRIMARY KEY);"
                f"INSERT INTO flowyard_schema VALUES ({SCHEMA_VERSION}) ON CONFLICT DO NOTHING"
            )
    if upgrade:
        log.warning(
            "migrated the database from %s to %d in %.1f s",
            _named(was),
            SCHEMA_VERSION,
            time.monotonic() - started,
        )


def _named(version: int) -> str:
    # 0 with a run log: a release before versions were recorded (flowyard_schema).
    return f"schema version {version}" + ("" if version else " (none recorded: an early release)")


async def _current(conn: asyncpg.Connection) -> bool:
    found = await recorded_version(conn)
    if found > SCHEMA_VERSION:
        raise NewerSchema(found)
    return found == SCHEMA_VERSION


async def recorded_version(conn: asyncpg.Connection | asyncpg.Pool) -> int:
    """The schema version the database is at (0: none recorded, a new database)."""
    if not await conn.fetchval("SELECT to_regclass('flowyard_schema') IS NOT NULL"):
        return 0
    return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM flowyard_schema"))
