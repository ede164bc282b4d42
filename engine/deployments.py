"""Deployments sharing one database: each is a ``FLOWYARD_QUEUE`` (docs/deploy.md).

Two deployments on one database (say production and staging, or two teams) run
with different environments: other Stripe keys, other Slack hooks, other peers. A
run must be executed only by a process of the deployment that accepted it, or a
payment is captured with the wrong deployment's settings. So every run records
its deployment (``flowyard_runs.queue``, schema version 10), and everything that
takes a run it did not accept — a takeover of a dead process's runs, the resume at
start, ``runs resume``, the engine process's claim of handed-over runs — only
takes its own deployment's. The advisory locks that say "a process of this kind
is running" (the engine process's, engine/handoff.py; the key-order lock,
engine/key_order.py) are one per deployment as well: a deployment's engine process
must not keep another's stranded runs from being taken, nor its serve be reported
as a key-order clash with another deployment's.
"""

from __future__ import annotations

import zlib

#: The column, added with the default queue: a run accepted before it existed
#: belongs to the default deployment, unless its queue job says otherwise (below).
DEPLOYMENT_COLUMN = """
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = current_schema()
                          AND table_name = 'flowyard_runs' AND column_name = 'queue') THEN
            ALTER TABLE flowyard_runs ADD COLUMN queue TEXT NOT NULL DEFAULT 'flowyard';
        END IF;
    END
    $$;
"""

#: Until version 10 a run did not record its deployment. A run queued for a worker
#: (``serve --no-worker``) has a procrastinate job in its deployment's queue: that
#: is its deployment. Any other run was accepted by a process executing it, whose
#: queue nothing recorded: it gets the default one.
DEPLOYMENT_OF_JOBS = """
    DO $$
    BEGIN
        IF to_regclass('procrastinate_jobs') IS NULL THEN
            RETURN;
        END IF;
        UPDATE flowyard_runs AS r SET queue = j.queue_name
          FROM procrastinate_jobs AS j
         WHERE j.task_name = 'flowyard.execute_run'
           AND j.args->>'execution_id' = r.execution_id::text
           AND r.queue <> j.queue_name;
    END
    $$;
"""


def lock_key(kind: int, deployment: str) -> tuple[int, int]:
    """The two-part advisory lock key of lock ``kind`` for ``deployment``: the kind,
    then 31 bits of the deployment name's CRC-32 (both must fit PostgreSQL's int4).
    Two names with one hash would share the lock: all they would do is wait for
    each other's engine process, or report a key-order clash that is not one."""
    return kind, zlib.crc32(deployment.encode("utf-8")) & 0x7FFFFFFF
