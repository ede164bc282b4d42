"""The statement that accepts a run (engine/intake.py), and the lookups of a key's
run: SQL text only, one text per combination of options, built once."""

from __future__ import annotations

import functools

from engine import pruned_keys
from engine._key_scopes import (
    EARLIER_HOLDS,
    HELD_AS_SENT,
    HOLDS,
    UNSCOPED_HOLDER,
    held_in_any_form,
)
from engine.handoff import ACCEPTED
from engine.queue import DEFER_TAIL

#: ``${raw}``: the input as accepted when ``$5`` is its redacted form, else NULL
#: (engine/migrations.py, unredacted_input); ``${rerun}``: the run a re-run repeats,
#: else NULL; ``${start}``: the trigger block the run starts from
#: (engine/triggers.py), NULL for all of them; ``${scope}``: the key's scope
#: (engine/_key_scopes.py), in which the key must be free; ``${deployment}``, the last
#: parameter (but for the key's forms, accept_sql): the accepting deployment
#: (engine/deployments.py). ``{pruned}``: with the key's forms, nor kept by retention in
#: one of them (engine/pruned_keys.py); empty otherwise.
_INSERT_RUN = f"""
    WITH ins AS (
        INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, trigger, input,
                                   idempotency_key, owner, heartbeat_at, concurrency_key,
                                   unredacted_input, input_redacted, rerun_of, trigger_block,
                                   key_scope, queue)
        SELECT $1::uuid, $2::text, $3::text, 'queued', $4::text, $5::json, $6::text, $7::text,
               now(), $8::text, ${{raw}}::json, ${{raw}}::json IS NOT NULL, ${{rerun}}::uuid,
               ${{start}}::text, ${{scope}}::text, ${{deployment}}::text
         WHERE NOT EXISTS ({UNSCOPED_HOLDER}){{pruned}}
"""
#: A schedule's tick (engine/runtime.py, submit): the run is inserted only if this
#: statement moved the schedule block's last tick forward. A concurrent accept of
#: the same tick waits for that row's lock, then finds the tick taken. The run
#: starts from that schedule block (``trigger_block``).
_INSERT_TICKED_RUN = f"""
    WITH tick AS (
        INSERT INTO flowyard_schedule_ticks AS last (workflow, block, tick, execution_id)
        VALUES ($2, ${{block}}, ${{tick}}, $1::uuid)
        ON CONFLICT (workflow, block) DO UPDATE
           SET tick = EXCLUDED.tick, execution_id = EXCLUDED.execution_id
         WHERE last.tick < EXCLUDED.tick
        RETURNING 1
    ), ins AS (
        INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, trigger, input,
                                   idempotency_key, owner, heartbeat_at, concurrency_key,
                                   unredacted_input, input_redacted, trigger_block, key_scope,
                                   queue)
        SELECT $1::uuid, $2::text, $3::text, 'queued', $4::text, $5::json, $6::text, $7::text,
               now(), $8::text, ${{raw}}::json, ${{raw}}::json IS NOT NULL, ${{block}}::text,
               ${{scope}}::text, ${{deployment}}::text
         WHERE EXISTS (SELECT FROM tick) AND NOT EXISTS ({UNSCOPED_HOLDER})
"""
#: The rest of the accepting statement: a repeated key inserts no run; the run's first event.
_ACCEPT = """        ON CONFLICT (workflow, key_scope, idempotency_key) WHERE idempotency_key IS NOT NULL
        DO NOTHING
        RETURNING execution_id
    ), ev AS (
        INSERT INTO flowyard_run_events (execution_id, seq, type, data)
        SELECT execution_id, 1, 'run_queued', json_build_object('trigger', $4::text) FROM ins
    )
    SELECT execution_id FROM ins
"""
_TAIL = "    SELECT execution_id FROM ins\n"
#: Handing the run to an engine process (serve --engine-process): NOTIFY is sent
#: on commit, so it never announces a run that is not there.
_NOTIFY_TAIL = (
    f"    SELECT execution_id FROM ins, pg_notify('{ACCEPTED}', execution_id::text) AS n\n"
)
#: A re-run's carried-over records (type, block, data as text), seq 2, 3, … after
#: `run_queued`: written with the run, so whoever executes or resumes it reuses them.
_CARRIED = """
    , carried AS (
        INSERT INTO flowyard_run_events (execution_id, seq, type, block, data)
        SELECT execution_id, 1 + c.n, c.type, c.block, c.data::json
          FROM ins, unnest(${0}::text[], ${1}::text[], ${2}::text[])
               WITH ORDINALITY AS c(type, block, data, n)
    )
"""


#: With a webhook's rules, the accepting statement also returns the run that held
#: the key as its snapshot saw it — the delivery's arrival — and that run's status
#: then: a repeat is judged by that, however long it then waits for a row lock.
#: Always one row; ``execution_id`` NULL when the key was taken. A holder committed
#: after the snapshot (a concurrent copy's run) is not seen: NULL too.
_SEEN = """
    , accepted AS (SELECT {final})
    SELECT a.execution_id, s.execution_id AS seen_id, s.status AS seen_status
      FROM (SELECT 1) AS one
      LEFT JOIN accepted AS a ON true
      LEFT JOIN flowyard_runs AS s
        ON a.execution_id IS NULL AND s.workflow = $2 AND s.idempotency_key = $6
       AND {holds}
"""
#: :data:`_SEEN` when the key has earlier forms (engine/_key_scopes.py): a run without
#: a scope holding one of them holds the key too. Should a run hold it in each form
#: (a resend accepted as new before earlier forms were looked up), the one holding
#: the key as sent is taken: the one a run of this release found. ``pruned_id``: no
#: run held it, and retention kept it in one of those forms (engine/pruned_keys.py).
_SEEN_EARLIER = """
    , accepted AS (SELECT {final})
    SELECT a.execution_id, s.execution_id AS seen_id, s.status AS seen_status,
           pr.execution_id AS pruned_id
      FROM (SELECT 1) AS one
      LEFT JOIN accepted AS a ON true
      LEFT JOIN LATERAL (
            SELECT h.execution_id, h.status FROM flowyard_runs AS h
             WHERE a.execution_id IS NULL AND h.workflow = $2
               AND (h.idempotency_key = $6 AND {holds} OR {earlier})
             ORDER BY h.key_scope IS NULL LIMIT 1
      ) AS s ON true
      LEFT JOIN LATERAL ({pruned} LIMIT 1) AS pr ON a.execution_id IS NULL
"""


@functools.cache  # one text per combination, built once (accepting is the hot path)
def accept_sql(
    queued: bool,
    carried: bool,
    notify: bool,
    seen: bool = False,
    ticked: bool = False,
    earlier: bool = False,
) -> str:
    first = 10 if queued else 9  # the parameters after the accept's (and the job's)
    extra = _CARRIED.format(first, first + 1, first + 2) if carried else ""
    after = first + (3 if carried else 0)
    scope = after + 3  # the key's scope, then the deployment (the last but for the forms)
    deployment = scope + 1
    forms = scope + 2  # with ``earlier``: the key and its earlier forms, a text[]
    held = held_in_any_form(forms) if earlier else HELD_AS_SENT
    pruned = pruned_keys.earlier_form_pruned(f"${forms}::text[]") if earlier else ""
    if ticked:  # its two parameters (block, tick), then the unredacted input
        head = _INSERT_TICKED_RUN.format(
            block=after,
            tick=after + 1,
            raw=after + 2,
            scope=scope,
            deployment=deployment,
            held=held,
        )
    else:
        head = _INSERT_RUN.format(
            raw=after,
            rerun=after + 1,
            start=after + 2,
            scope=scope,
            deployment=deployment,
            held=held,
            pruned=f" AND NOT EXISTS ({pruned})" if pruned else "",
        )
    sql = head + _ACCEPT.removesuffix(_TAIL) + extra
    sql += DEFER_TAIL if queued else _NOTIFY_TAIL if notify else _TAIL
    if not seen:
        return sql
    ctes, _, final = sql.rpartition("\n    SELECT ")  # every tail ends `SELECT … FROM ins …`
    if not earlier:
        holds = HOLDS.format(run="s", scope=f"${scope}::text", trigger="$4")
        return ctes + _SEEN.format(final=final.strip(), holds=holds)
    holds = HOLDS.format(run="h", scope=f"${scope}::text", trigger="$4")
    older = EARLIER_HOLDS.format(run="h", trigger="$4", forms=f"${forms}::text[]")
    return ctes + _SEEN_EARLIER.format(
        final=final.strip(), holds=holds, earlier=older, pruned=pruned.strip()
    )


#: The block's last tick, when it is at or after the one being accepted.
TICK_TAKEN = """
    SELECT execution_id FROM flowyard_schedule_ticks
     WHERE workflow = $1 AND block = $2 AND tick >= $3
"""


#: The run holding a key (a :class:`ScopedKey`, its parameters), and the key as it
#: holds it.
FIRST = f"""
    SELECT execution_id, status, input, unredacted_input, input_redacted, idempotency_key
      FROM flowyard_runs AS r
     WHERE workflow = $1 AND idempotency_key = $2
       AND {HOLDS.format(run="r", scope="$3", trigger="$4")}
"""
#: :data:`FIRST` of a key with earlier forms (``$5``: the key and those forms), as
#: :data:`_SEEN_EARLIER` finds it.
FIRST_EARLIER = f"""
    SELECT execution_id, status, input, unredacted_input, input_redacted, idempotency_key
      FROM flowyard_runs AS r
     WHERE workflow = $1
       AND (idempotency_key = $2 AND {HOLDS.format(run="r", scope="$3", trigger="$4")}
            OR {EARLIER_HOLDS.format(run="r", trigger="$4", forms="$5::text[]")})
     ORDER BY key_scope IS NULL LIMIT 1
"""
#: The key leaves a run that ended without effect, so a retry can take it. Only if
#: that run still holds it and is still failed or cancelled (a run's end is final).
RELEASE = """
    UPDATE flowyard_runs SET idempotency_key = NULL
     WHERE execution_id = $1 AND idempotency_key = $2 AND status IN ('failed', 'cancelled')
"""


#: A re-run of the failed delivery run ``$1`` (POST /api/runs/<id>/rerun) doing or
#: done with its work: a sender's retry of that delivery is answered with it.
RERUN_STANDING = """
    SELECT execution_id FROM flowyard_runs
     WHERE rerun_of = $1::uuid AND status IN ('queued', 'running', 'succeeded')
     ORDER BY created_at DESC LIMIT 1
"""
