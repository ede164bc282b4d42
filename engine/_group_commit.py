"""SQL of a transaction group's commit marker (RunRecorder.commit_in), run on the
group's own connection after its members' statements."""

from __future__ import annotations

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

#: The buffer and marker (``$1``, ``$3``…``$7``: recorder._EVENT_ROWS) when another
#: connection holds the fence's lock on the run's row ($2, its owner, checked there).
FENCED_APART = """
    INSERT INTO flowyard_run_events (execution_id, seq, type, block, data, at)
    SELECT $1::uuid, s, t, b, d::json, to_timestamp(a)
    FROM unnest($3::int[], $4::text[], $5::text[], $6::text[], $7::float8[]) AS u(s, t, b, d, a)
    WHERE $2::text IS NOT NULL
"""
