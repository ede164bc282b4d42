-- Event store for the Order Processing and Replay Events templates.
--
-- Applied by `flowyard db init` (and by `flowyard new order_processing`'s README
-- step). Every statement is idempotent (IF NOT EXISTS / CREATE OR REPLACE), so
-- applying the file twice is harmless. Needs PostgreSQL 14+ (xid8 functions,
-- CREATE OR REPLACE TRIGGER); the embedded server is 18.
--
-- Corrections to the seed's schema are marked "CORRECTION:" with the reason.

CREATE SEQUENCE IF NOT EXISTS event_sequence;

CREATE TABLE IF NOT EXISTS events (
    -- Global position, handed out at INSERT time (not commit time; see
    -- transaction_id below for why subscribers must not page by it alone).
    sequence_number   BIGINT PRIMARY KEY DEFAULT nextval('event_sequence'),
    -- CORRECTION: the seed's event_id was not unique, so a redelivered webhook
    -- appended the same fact twice and the order's version counted it twice.
    -- UNIQUE makes `INSERT ... ON CONFLICT (event_id) DO NOTHING` the
    -- idempotency check: a repeat appends nothing and bumps no version.
    event_id          UUID NOT NULL UNIQUE,
    event_type        TEXT NOT NULL,
    -- Schema version of `data` as it was received; upcasters in
    -- templates/lib/order_events.py lift old versions on read, so stored
    -- events are never rewritten to follow a schema change.
    event_version     INTEGER NOT NULL DEFAULT 1,
    aggregate_id      TEXT NOT NULL,
    aggregate_type    TEXT NOT NULL DEFAULT 'order',
    -- Position in the aggregate's own stream (1, 2, 3 ...), assigned while the
    -- order's lock is held. Replay orders by it; the unique index below turns
    -- any locking mistake into a loud error instead of a silently reordered
    -- history.
    aggregate_version BIGINT NOT NULL,
    data              JSONB NOT NULL DEFAULT '{}'::jsonb,
    metadata          JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- clock_timestamp(), not now(): now() is the transaction's start, so an
    -- append that waited for the order's lock would get a time earlier than the
    -- event it was queued behind, and `as_of` would no longer select a prefix
    -- of the stream.
    created_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- CORRECTION (ordering for subscribers): a sequence value is taken at
    -- insert, but transactions commit in any order. If A takes 5 and B takes 6
    -- and B commits first, a poller that read 6 and moved its cursor past it
    -- never sees 5. The writing transaction's id lets readers only consume
    -- events from transactions that are known to be finished; see
    -- events_after() below. Chosen over serializing every append with a global
    -- lock because it costs appends nothing (measured in bench/event_store.py).
    transaction_id    XID8 NOT NULL DEFAULT pg_current_xact_id()
);

-- Indexes: every one is paid for by every append (bench/event_store.py
-- measures what they cost a batched COPY), so each serves a reader.
-- Replay, time travel and the UI read an order's stream through this one:
CREATE UNIQUE INDEX IF NOT EXISTS events_aggregate_version_key
    ON events (aggregate_type, aggregate_id, aggregate_version);
-- Subscribers page by (transaction_id, sequence_number); see events_after().
CREATE INDEX IF NOT EXISTS events_transaction_idx ON events (transaction_id, sequence_number);
-- The seed's indexes: an order's events by global position, and by type and time.
CREATE INDEX IF NOT EXISTS events_aggregate_sequence_idx ON events (aggregate_id, sequence_number);
CREATE INDEX IF NOT EXISTS events_type_created_idx ON events (event_type, created_at);
-- CORRECTION: the seed's B-tree on created_at is a BRIN index here. created_at
-- follows the physical order of an append-only table, which is what BRIN is
-- for: a summary per range of pages instead of an entry per event, so time
-- filters stay fast while appends no longer pay for a third B-tree.
CREATE INDEX IF NOT EXISTS events_created_idx ON events USING brin (created_at);
-- An installation from before kept the B-tree under this name: replace it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'events_created_idx'
                AND indexdef NOT LIKE '%USING brin%') THEN
        DROP INDEX events_created_idx;
        CREATE INDEX events_created_idx ON events USING brin (created_at);
    END IF;
END
$$;

-- CORRECTION: the seed made UPDATE and DELETE on events silent no-ops with
-- rules (`DO INSTEAD NOTHING`), so a buggy or malicious statement "succeeded"
-- and nobody learned that history was nearly rewritten. A trigger raises
-- instead, naming the table and the rule; TRUNCATE is refused as well (a plain
-- TRUNCATE by PostgreSQL first, with 0A000, as tables reference events; with
-- CASCADE by this trigger).
CREATE OR REPLACE FUNCTION events_are_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation',
              HINT = 'Record a new (compensating) event instead of changing history.';
END;
$$;

DROP RULE IF EXISTS events_no_update ON events;
DROP RULE IF EXISTS events_no_delete ON events;
CREATE OR REPLACE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();
CREATE OR REPLACE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- Subscribers and projections page through the log with the cursor
-- (transaction_id, sequence_number) and only see events of transactions below
-- the oldest one still running (pg_snapshot_xmin). Every such transaction is
-- finished, so nothing can later appear behind the cursor: no committed event
-- is ever skipped. The price is latency, not throughput: a long transaction
-- holds readers back until it ends. Start with ('0', 0).
CREATE OR REPLACE FUNCTION events_after(after_xid XID8, after_sequence BIGINT, max_rows INTEGER DEFAULT 1000)
RETURNS SETOF events
LANGUAGE sql STABLE AS $$
    SELECT *
      FROM events
     WHERE (transaction_id, sequence_number) > (after_xid, after_sequence)
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id, sequence_number
     LIMIT max_rows
$$;

-- The live state of each order (a projection of events, rewritten by each
-- event). CORRECTION: the seed locked it with SELECT ... FOR UPDATE in one
-- block and upserted it in another, each on its own pooled connection, so the
-- lock was released before the upsert ran and concurrent events lost updates.
-- The workflow now runs lock, append and upsert in one `transaction:` group.
CREATE TABLE IF NOT EXISTS order_snapshots (
    order_id            TEXT PRIMARY KEY,
    version             BIGINT NOT NULL,
    state               JSONB NOT NULL,
    last_event_sequence BIGINT,
    last_event_id       UUID,
    last_event_at       TIMESTAMPTZ,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- Every SNAPSHOT_EVERY-th version of each order, kept: replay and time travel
-- start from the newest one at or before the requested point instead of from
-- event 1. Written by the same transaction as the event, so it can never be
-- ahead of or behind the log.
CREATE TABLE IF NOT EXISTS order_snapshot_history (
    order_id            TEXT NOT NULL,
    version             BIGINT NOT NULL,
    state               JSONB NOT NULL,
    last_event_sequence BIGINT NOT NULL,
    last_event_at       TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (order_id, version)
);

-- Links an event to what it caused outside (a payment capture ...), with the
-- outcome, so a failed capture is visible and can be retried by hand.
CREATE TABLE IF NOT EXISTS event_correlations (
    id               BIGSERIAL PRIMARY KEY,
    event_id         UUID NOT NULL REFERENCES events (event_id),
    correlation_type TEXT NOT NULL,
    external_id      TEXT,
    status           TEXT NOT NULL,
    http_status      INTEGER,
    response         JSONB,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- One capture per event, even when a run is resumed after a crash.
    UNIQUE (event_id, correlation_type)
);
CREATE INDEX IF NOT EXISTS event_correlations_status_idx ON event_correlations (status, created_at);

-- One row per consistency check of Replay Events: what the events say, what
-- the snapshot said, and whether it was repaired (from events; never the
-- events themselves).
CREATE TABLE IF NOT EXISTS consistency_checks (
    id                BIGSERIAL PRIMARY KEY,
    order_id          TEXT NOT NULL,
    consistent        BOOLEAN NOT NULL,
    replayed_version  BIGINT NOT NULL,
    snapshot_version  BIGINT,
    replayed_state    JSONB,
    snapshot_state    JSONB,
    repaired          BOOLEAN NOT NULL DEFAULT false,
    execution_id      TEXT,
    checked_at        TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- Why the check is not consistent (Replay's `reasons`, one line each; [] when it
    -- is): the run that said it is pruned with the run log, and a failed check whose
    -- two states are equal (a snapshot's last_event_* columns, a kept snapshot, a
    -- missing version) said nothing without it. NULL: recorded by a workflow copy
    -- of an earlier release.
    reasons           JSONB
);
-- An installation from before the column: add it.
ALTER TABLE consistency_checks ADD COLUMN IF NOT EXISTS reasons JSONB;
CREATE INDEX IF NOT EXISTS consistency_checks_order_idx ON consistency_checks (order_id, checked_at);

-- The "search index" subscriber of step 10: a flat, queryable row per order.
CREATE TABLE IF NOT EXISTS order_search_index (
    order_id       TEXT PRIMARY KEY,
    status         TEXT,
    customer_email TEXT,
    customer_name  TEXT,
    total_cents    BIGINT,
    version        BIGINT NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- Subscribers' messages (step 10) not yet taken, per subscriber ('customer',
-- 'slack', 'email') and order, oldest first. A message is written in the same
-- statement as what it reports (the customer's notification and the confirmation
-- email with the event, Slack's with the capture's outcome), so none is lost to a
-- crash or a subscriber that is down, and a run deletes it once the subscriber
-- took it. What one order still holds for a subscriber is sent, in version order,
-- before that order's next message to it, and by any repeat of its events. No
-- row is written for a subscriber whose setting is unset.
CREATE TABLE IF NOT EXISTS subscriber_outbox (
    subscriber  TEXT NOT NULL,
    event_id    UUID NOT NULL REFERENCES events (event_id),
    order_id    TEXT NOT NULL,
    version     BIGINT NOT NULL,
    payload     JSONB NOT NULL,
    held_at     TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (subscriber, event_id)
);
CREATE INDEX IF NOT EXISTS subscriber_outbox_order_idx ON subscriber_outbox (subscriber, order_id, version);
