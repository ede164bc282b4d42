"""The SQL of a run's log (engine/recorder.py): its writes, each fenced by the run's
owner, and a transaction group's commit marker, run on the group's own connection
after its members' statements."""

from __future__ import annotations

from engine.handoff import FINISHED

#: Every write to a run's log is fenced by its owner: once another process has taken
#: the run over (this one was silent past recovery.STALE_AFTER_S: a paused VM, a cut
#: network), this one's writes change nothing and it stops (OwnershipLost). The
#: check is one primary-key lookup inside each statement, not an extra round trip.
OWNED = "SELECT 1 FROM flowyard_runs WHERE execution_id = $1::uuid AND owner = $2"

EVENT_ROWS = """
    INSERT INTO flowyard_run_events (execution_id, seq, type, block, data, at)
    SELECT $1::uuid, s, t, b, d::json, to_timestamp(a)
    FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::float8[]) AS u(s, t, b, d, a)
"""
INSERT_EVENTS = f"{EVENT_ROWS.rstrip()} WHERE EXISTS ({OWNED})"
#: Inside a transaction group, the run's row stays share-locked until COMMIT: a
#: takeover (an UPDATE of the owner) waits for it, then reads the commit marker and
#: does not run the group again; or it went first, and the group rolls back.
INSERT_EVENTS_LOCKED = f"{INSERT_EVENTS.rstrip(')')} FOR SHARE)"

#: The run ends at its final event's time ($12), decided once in ``finish``: the run
#: row, the log (what the run viewer reads) and the result handed to a waiting caller
#: tell the same end, to the microsecond. The input as it came, kept while the run
#: could still execute (its stored input was redacted: engine/intake.py), goes with it.
FINISH_UPDATE = """
    UPDATE flowyard_runs SET status = $8, output = $9::text::json, error = $10::text::json,
        started_at = COALESCE(started_at, to_timestamp($11)), finished_at = to_timestamp($12),
        unredacted_input = NULL
    WHERE execution_id = $1::uuid AND owner = $2
"""
FINISH_RUN = f"WITH ev AS ({INSERT_EVENTS.strip()}) {FINISH_UPDATE}"
#: The same, announcing the end to the web process waiting for it (serve --engine-process).
FINISH_RUN_NOTIFY = f"""
    WITH ev AS ({INSERT_EVENTS.strip()}), fin AS ({FINISH_UPDATE} RETURNING execution_id)
    SELECT pg_notify('{FINISHED}', execution_id::text) FROM fin
"""

START_RUN = f"""
    WITH ev AS ({INSERT_EVENTS.strip()})
    UPDATE flowyard_runs SET status = 'running', started_at = COALESCE(started_at, to_timestamp($8))
    WHERE execution_id = $1::uuid AND owner = $2 AND status IN ('queued', 'running')
"""

#: Whether the group's transaction is read-only (`SET TRANSACTION READ ONLY`), which
#: cannot hold the marker, and its isolation level.
TRANSACTION = """
    SELECT current_setting('transaction_read_only') = 'on',
           current_setting('transaction_isolation')
"""

#: The settings of flowyard's own statements, for the rest of a group's transaction:
#: a member's `SET LOCAL ROLE`, `search_path` (a schema per tenant) or timeout
#: made the commit marker fail (permission denied, no flowyard_run_events).
OWN_SETTINGS = """
    SET LOCAL SESSION AUTHORIZATION DEFAULT; SET LOCAL role TO DEFAULT;
    SET LOCAL search_path TO DEFAULT; SET LOCAL statement_timeout TO DEFAULT;
    SET LOCAL lock_timeout TO DEFAULT
"""

#: The buffer and marker (``$1``, ``$3``…``$7``: EVENT_ROWS) when another
#: connection holds the fence's lock on the run's row ($2, its owner, checked there).
FENCED_APART = """
    INSERT INTO flowyard_run_events (execution_id, seq, type, block, data, at)
    SELECT $1::uuid, s, t, b, d::json, to_timestamp(a)
    FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::float8[]) AS u(s, t, b, d, a)
    WHERE $2::text IS NOT NULL
"""
