"""Idempotency keys outlive their runs (schema version 9).

A run's key lives in its row, and retention (engine/retention.py) deletes the row:
a sender's resend of a delivery whose run had been pruned found its key free and
started a second run — a payment captured twice, months later. So the transaction
that prunes a run first keeps what identifies its delivery in
``flowyard_pruned_keys``: the workflow, the key's scope (engine/_key_scopes.py),
the key's SHA-256 (not its text: the key may be business data, an order or event
id, and retention is there to let such data go) and the pruned run's id. A repeat
of it is then answered with that run, ``pruned``, and starts nothing.

Only the keys whose resend would have been answered with the run are kept: every
kept run's key, except a webhook run's that failed or was cancelled — a resend of
that delivery is a retry, which starts a new run (engine/intake.py), pruned or not.
A schedule tick's key is kept too, though flowyard_schedule_ticks already keeps the
tick from running again. The rows are never pruned: they are small, and a resend
may come at any time (an operator replaying a month of a provider's events).

The accepting statement is not made longer for this (but for earlier key forms,
below): a trigger on the run row (``AFTER INSERT``, so after the unique index has
waited for a prune deleting the key's run in flight) looks the key up, with a
snapshot of its own that sees that prune's commit, and refuses the row as a unique
violation of :data:`CONSTRAINT`. Only a resend of a pruned run's delivery pays a second
statement: finding that run (:func:`pruned_holder`).

A run accepted before keys had a scope may hold its key in a form earlier releases
stored (blocks/_earlier_keys.py), and is kept so, under its trigger: the trigger
compares only the key as sent now. A webhook key that has earlier forms (few do)
runs the accepting statement that looks them up (engine/_accept_sql.py), and that
statement also looks them up here (:func:`earlier_form_pruned`), among the keys of
runs without a scope only, as it does among the runs: such a resend is answered
with its pruned run too, in the same one statement.
"""

from __future__ import annotations

import datetime as dt

import asyncpg

from engine._key_scopes import ScopedKey

#: The form a key is kept in: its UTF-8's SHA-256, hex (``{key}``: an SQL expression).
KEY_HASH = "encode(sha256(convert_to({key}, 'UTF8')), 'hex')"
#: The constraint a run row taking a pruned run's key violates (the trigger names it).
CONSTRAINT = "flowyard_pruned_keys_pkey"
#: The trigger's function: a migration replaces it (engine/privileges.py).
TRIGGER_FUNCTION = "flowyard_runs_key_not_pruned"

#: The table, and the trigger that keeps a pruned run's key from being taken. The
#: scope of a run accepted before keys had one (NULL) is kept as its trigger, which
#: holds no ``:`` and so equals no scope: such a key is matched by the new run's
#: trigger, as engine/_key_scopes.py HOLDS matches it while the run exists.
SCHEMA = f"""
    CREATE TABLE IF NOT EXISTS flowyard_pruned_keys (
        workflow TEXT NOT NULL,
        key_scope TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        execution_id UUID NOT NULL,  -- the pruned run a resend is answered with
        pruned_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        CONSTRAINT {CONSTRAINT} PRIMARY KEY (workflow, key_scope, key_hash)
    );
    CREATE INDEX IF NOT EXISTS flowyard_pruned_keys_run ON flowyard_pruned_keys (execution_id);
    CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger AS $$
    BEGIN
        IF EXISTS (SELECT FROM flowyard_pruned_keys AS p
                    WHERE p.workflow = NEW.workflow
                      AND p.key_hash = {KEY_HASH.format(key="NEW.idempotency_key")}
                      AND p.key_scope IN (NEW.key_scope, NEW.trigger)) THEN
            RAISE EXCEPTION 'the idempotency key of run % is a pruned run''s key',
                NEW.execution_id
                USING ERRCODE = 'unique_violation', CONSTRAINT = '{CONSTRAINT}';
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql;
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger
                        WHERE tgname = 'flowyard_runs_key_not_pruned'
                          AND tgrelid = 'flowyard_runs'::regclass) THEN
            CREATE TRIGGER flowyard_runs_key_not_pruned AFTER INSERT ON flowyard_runs
                FOR EACH ROW WHEN (NEW.idempotency_key IS NOT NULL)
                EXECUTE FUNCTION {TRIGGER_FUNCTION}();
        END IF;
    END
    $$;
"""

#: Run inside the pruning transaction, before its runs (``$1``) are deleted.
KEEP = f"""
    INSERT INTO flowyard_pruned_keys (workflow, key_scope, key_hash, execution_id)
    SELECT workflow, coalesce(key_scope, trigger), {KEY_HASH.format(key="idempotency_key")},
           execution_id
      FROM flowyard_runs
     WHERE execution_id = ANY($1::uuid[]) AND idempotency_key IS NOT NULL
       AND (status = 'succeeded' OR trigger <> 'webhook')
    ON CONFLICT (workflow, key_scope, key_hash) DO UPDATE
       SET execution_id = EXCLUDED.execution_id, pruned_at = EXCLUDED.pruned_at
"""


def earlier_form_pruned(forms: str) -> str:
    """The pruned run (a query of its ``execution_id``) that held one of a key's forms
    (``forms``: an SQL array of the key and the forms earlier releases stored it in)
    without a scope: kept under the accepting statement's trigger (``$4``), in the
    accepting statement's workflow (``$2``)."""
    hashes = f"SELECT {KEY_HASH.format(key='f')} FROM unnest({forms}) AS f"
    return f"""
          SELECT p.execution_id FROM flowyard_pruned_keys AS p
           WHERE p.workflow = $2 AND p.key_scope = $4::text AND p.key_hash IN ({hashes})
"""


#: The pruned run holding a key (a :class:`ScopedKey`, its parameters).
_HOLDER = f"""
    SELECT execution_id FROM flowyard_pruned_keys
     WHERE workflow = $1 AND key_hash = {KEY_HASH.format(key="$2::text")}
       AND key_scope IN ($3::text, $4::text)
"""


def takes_a_pruned_key(exc: BaseException) -> bool:
    """``exc`` is the trigger's refusal of a run taking a pruned run's key."""
    return (
        isinstance(exc, asyncpg.UniqueViolationError)
        and getattr(exc, "constraint_name", None) == CONSTRAINT
    )


async def pruned_holder(pool: asyncpg.Pool, holder: ScopedKey) -> str | None:
    """The pruned run whose key ``holder`` is (None: no pruned run's)."""
    found = await pool.fetchval(_HOLDER, *holder)
    return None if found is None else str(found)


async def pruned_at(pool: asyncpg.Pool, execution_id: str) -> dt.datetime | None:
    """When the run ``execution_id`` was pruned, if its key was kept (None otherwise:
    never pruned, or pruned without a key kept)."""
    return await pool.fetchval(
        "SELECT max(pruned_at) FROM flowyard_pruned_keys WHERE execution_id = $1::uuid",
        execution_id,
    )
