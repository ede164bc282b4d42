"""Accepting a run: the run row and its first event in one statement, before anyone
is told "accepted" — and what a repeated idempotency key means.

A key names one delivery. For most callers (a schedule's tick, a re-run) a repeat
is answered with the first run, whatever became of it. For a webhook sender a
repeat is a *retry*, and two rules keep it from losing or mixing up events:

- a retry of a delivery whose run **failed or was cancelled** starts a new run (the
  first stored nothing a resend would duplicate: its transactions rolled back), and
  the key moves to the new run — the sender's standard retry is how it recovers.
  A repeat is judged by what its key's run was **when it arrived** (the snapshot of
  its first statement): only a delivery that arrived after the run had failed is a
  retry of it. Copies sent together with the first (a burst, a sender's impatient
  resend) are repeats of that run even if it fails before they are judged, and
  retries that arrive together start one run between them: each failed run is
  retried once, by the first of them, and the others answer with its retry;
- a repeat whose request is **not the same** (another body or query) is refused
  with :class:`IdempotencyConflict`: a key reused for a different event must not
  silently drop that event (what Stripe answers too: the key was used with other
  parameters).

A repeat is one of the same workflow and **trigger block** (engine/_key_scopes.py):
a webhook delivery never takes a schedule tick's key, nor another webhook block's.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import asyncpg

from engine._json import dumps
from engine._key_scopes import HOLDS, UNSCOPED_HOLDER, ScopedKey, key_scope
from engine.handoff import ACCEPTED
from engine.queue import DEFER_TAIL

#: Tells whether a repeated delivery (stored input, new input) is the same request.
SameRequest = Callable[[dict[str, Any], dict[str, Any]], bool]

#: How often a repeat looks for its key's run again before it gives up: each round
#: is lost only to a takeover of the key by a concurrent retry, committed between
#: two of its statements (and one such run is then what it answers with).
_ROUNDS = 5

#: A run that ended without effect: a delivery that arrives after it may run again.
_RETRYABLE = ("failed", "cancelled")


def new_execution_id() -> str:
    return str(uuid.uuid4())


class Accepted(NamedTuple):
    execution_id: str
    created: bool  # False: an earlier delivery with the same key owns the run
    retry_of: str | None = None  # the failed or cancelled run this delivery retries


class IdempotencyBusy(Exception):
    """The key's run changed hands every time this delivery looked (retries of it
    arriving and failing at that pace): nothing was accepted; the sender retries."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"the idempotency key {key!r} is being retried concurrently; retry")


def hashed(key: str) -> str:
    """``sha256:<hex>`` of ``key``'s UTF-8: the form a key is stored, compared and shown
    (a 409's message) in when it is too long to index, or holds a credential or one of
    the run's secrets."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class IdempotencyConflict(Exception):
    """The idempotency key is already the key of a run for a different request."""

    def __init__(self, key: str, execution_id: str) -> None:
        self.key, self.execution_id = key, execution_id
        super().__init__(
            f"the idempotency key {key!r} was already used for a different request "
            f"(run {execution_id}); a new event needs a new key"
        )


#: ``${raw}``: the input as accepted when ``$5`` is its redacted form, else NULL
#: (engine/migrations.py, unredacted_input); ``${rerun}``: the run a re-run repeats,
#: else NULL; ``${start}``: the trigger block the run starts from
#: (engine/triggers.py), NULL for all of them; ``${scope}``, the last parameter:
#: the key's scope (engine/_key_scopes.py), in which the key must be free.
_INSERT_RUN = f"""
    WITH ins AS (
        INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, trigger, input,
                                   idempotency_key, owner, heartbeat_at, concurrency_key,
                                   unredacted_input, input_redacted, rerun_of, trigger_block,
                                   key_scope)
        SELECT $1::uuid, $2::text, $3::text, 'queued', $4::text, $5::json, $6::text, $7::text,
               now(), $8::text, ${{raw}}::json, ${{raw}}::json IS NOT NULL, ${{rerun}}::uuid,
               ${{start}}::text, ${{scope}}::text
         WHERE NOT EXISTS ({UNSCOPED_HOLDER})
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
                                   unredacted_input, input_redacted, trigger_block, key_scope)
        SELECT $1::uuid, $2::text, $3::text, 'queued', $4::text, $5::json, $6::text, $7::text,
               now(), $8::text, ${{raw}}::json, ${{raw}}::json IS NOT NULL, ${{block}}::text,
               ${{scope}}::text
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


@functools.cache  # one text per combination, built once (accepting is the hot path)
def _accept_sql(
    queued: bool, carried: bool, notify: bool, seen: bool = False, ticked: bool = False
) -> str:
    first = 10 if queued else 9  # the parameters after the accept's (and the job's)
    extra = _CARRIED.format(first, first + 1, first + 2) if carried else ""
    after = first + (3 if carried else 0)
    scope = after + 3  # the key's scope, the last parameter
    if ticked:  # its two parameters (block, tick), then the unredacted input
        head = _INSERT_TICKED_RUN.format(block=after, tick=after + 1, raw=after + 2, scope=scope)
    else:
        head = _INSERT_RUN.format(raw=after, rerun=after + 1, start=after + 2, scope=scope)
    sql = head + _ACCEPT.removesuffix(_TAIL) + extra
    sql += DEFER_TAIL if queued else _NOTIFY_TAIL if notify else _TAIL
    if not seen:
        return sql
    ctes, _, final = sql.rpartition("\n    SELECT ")  # every tail ends `SELECT … FROM ins …`
    holds = HOLDS.format(run="s", scope=f"${scope}::text", trigger="$4")
    return ctes + _SEEN.format(final=final.strip(), holds=holds)


#: The block's last tick, when it is at or after the one being accepted.
_TICK_TAKEN = """
    SELECT execution_id FROM flowyard_schedule_ticks
     WHERE workflow = $1 AND block = $2 AND tick >= $3
"""


#: The run holding a key (a :class:`ScopedKey`, its parameters).
_FIRST = f"""
    SELECT execution_id, status, input, unredacted_input, input_redacted FROM flowyard_runs AS r
     WHERE workflow = $1 AND idempotency_key = $2
       AND {HOLDS.format(run="r", scope="$3", trigger="$4")}
"""
#: The key leaves a run that ended without effect, so a retry can take it. Only if
#: that run still holds it and is still failed or cancelled (a run's end is final).
_RELEASE = """
    UPDATE flowyard_runs SET idempotency_key = NULL
     WHERE execution_id = $1 AND idempotency_key = $2 AND status IN ('failed', 'cancelled')
"""


async def accept(
    pool: asyncpg.Pool,
    workflow: str,
    version: str,
    trigger: str,
    input: dict[str, Any],
    idempotency_key: str | None,
    owner: str | None,
    key: str | None = None,
    queue: str | None = None,
    notify: bool = False,
    carried: Sequence[tuple[str, str | None, dict[str, Any]]] = (),
    same_request: SameRequest | None = None,
    tick: tuple[str, dt.datetime] | None = None,
    shown: dict[str, Any] | None = None,
    rerun_of: str | None = None,
    trigger_block: str | None = None,
) -> Accepted:
    """Durably accept a run in one statement: the run row (with its concurrency
    ``key``) and its `run_queued` event; with ``queue``, its procrastinate job
    (``key`` as the job's lock); with ``notify``, a NOTIFY for the engine process
    it is handed to; with ``carried``, events a re-run takes over; with ``tick``
    (a schedule block's id and tick), the block's last tick, and the run only if
    that tick is later than the last one (``created`` False otherwise).

    A repeated idempotency key returns the first run (``created`` False). With
    ``same_request`` (a webhook's retry rules, above) a repeat of a failed or
    cancelled run starts a new one, and a different request raises
    :class:`IdempotencyConflict`.

    ``shown``: the input with the secrets it held redacted (engine/redaction.py),
    stored as the run's input for every reader; ``input`` itself is then kept only
    for executing the run, until its end (``unredacted_input``).

    ``rerun_of``: the run a re-run repeats (``<workflow.rerun_of>``); never with a
    ``tick``. ``trigger_block``: the trigger block the run starts from (None: all
    of them); a tick's is its schedule block, whatever is given. The key is looked
    up in that block's namespace (engine/_key_scopes.py)."""
    holder = ScopedKey(
        workflow, idempotency_key, key_scope(trigger, tick[0] if tick else trigger_block), trigger
    )
    stored = input if shown is None else shown
    raw = None if shown is None else input
    args: list[Any] = [None, workflow, version, trigger, stored, idempotency_key, owner, key]
    if queue is not None:
        args.append(queue)
    if carried:
        args += [list(c) for c in zip(*((t, b, dumps(d)) for t, b, d in carried), strict=True)]
    if same_request is not None:
        sql = _accept_sql(queue is not None, bool(carried), notify, seen=True)
        args += [raw, rerun_of, trigger_block, holder.scope]
        return await _accept_delivery(pool, sql, args, holder, (input, stored), same_request)
    if tick is not None:
        args += [*tick, raw, holder.scope]
    else:
        args += [raw, rerun_of, trigger_block, holder.scope]
    sql = _accept_sql(queue is not None, bool(carried), notify, ticked=tick is not None)
    for _ in range(_ROUNDS):
        args[0] = eid = new_execution_id()
        if await pool.fetchrow(sql, *args) is not None:
            return Accepted(eid, True)
        first = await pool.fetchrow(_FIRST, *holder)
        if first is not None:
            return Accepted(str(first["execution_id"]), False)
        # The tick was taken, its run since pruned (retention): it runs once.
        taken = tick and await pool.fetchrow(_TICK_TAKEN, workflow, *tick)
        if taken:
            return Accepted(str(taken["execution_id"]), False)
        # released meanwhile (a webhook's retry took it): try again
    raise IdempotencyBusy(str(idempotency_key))


async def _accept_delivery(
    pool: asyncpg.Pool,
    sql: str,
    args: list[Any],
    holder: ScopedKey,
    input: tuple[dict[str, Any], dict[str, Any]],
    same_request: SameRequest,
) -> Accepted:
    """A webhook delivery: a new run, or a repeat judged by what its key's run was
    when the delivery arrived (the first statement's snapshot, ``seen_*``).
    ``input``: the delivery's input, as is and as stored (redacted)."""
    row, accepted = await _insert_new(pool, sql, args)
    if accepted is not None:
        return accepted
    # Only the run that had already failed (or been cancelled) when this delivery
    # arrived may be retried by it; any other holder is answered as it is.
    retry_of = str(row["seen_id"]) if row["seen_status"] in _RETRYABLE else None
    for _ in range(_ROUNDS):
        accepted = await _repeat(pool, sql, args, holder, input, same_request, retry_of)
        if accepted is not None:
            return accepted
        # The key was moved (or its run pruned) between two statements: whoever
        # holds it now is found by the INSERT; if nobody does, this delivery runs.
        _, accepted = await _insert_new(pool, sql, args)
        if accepted is not None:
            return accepted
    raise IdempotencyBusy(str(holder.key))


async def _insert_new(
    pool: asyncpg.Pool, sql: str, args: list[Any]
) -> tuple[asyncpg.Record, Accepted | None]:
    """The accepting statement under a new execution id: its row, and the new run
    when it was inserted (None: the key has a holder, which the row names)."""
    args[0] = eid = new_execution_id()
    row = await pool.fetchrow(sql, *args)
    return row, Accepted(eid, True) if row["execution_id"] is not None else None


async def _repeat(
    pool: asyncpg.Pool,
    sql: str,
    args: list[Any],
    holder: ScopedKey,
    input: tuple[dict[str, Any], dict[str, Any]],
    same_request: SameRequest,
    retry_of: str | None,
) -> Accepted | None:
    """A webhook's repeat: the key's run, a conflict, or — ``retry_of`` still holds
    the key: its run had failed or been cancelled when the delivery arrived — a new
    run taking the key over. The holder's row stays locked from the check to the
    new run's insert, so a concurrent delivery of the same key (the same request or
    another) waits and then judges against the new run: a different body can never
    slip in between and take the key from the sender's retries, and a concurrent
    retry of the same failed run answers with this one's run instead of starting
    another. None: nobody holds the key now (moved or pruned meanwhile)."""
    async with pool.acquire() as conn, conn.transaction():
        first = await conn.fetchrow(_FIRST + " FOR UPDATE", *holder)
        if first is None:
            return None
        first_id = str(first["execution_id"])
        if not same_request(*_compared(first, *input)):
            raise IdempotencyConflict(str(holder.key), first_id)
        if first_id != retry_of or first["status"] not in _RETRYABLE:
            # Queued, running or succeeded; or it failed after this delivery arrived
            # (the delivery is a copy of the one that started it, not a retry); or it
            # is a concurrent retry's new run.
            return Accepted(first_id, False)
        await conn.execute(_RELEASE, first["execution_id"], holder.key)
        args[0] = eid = new_execution_id()
        if (await conn.fetchrow(sql, *args))["execution_id"] is None:
            return None  # cannot happen while the row is locked; judged again if it does
        return Accepted(eid, True, first_id)


def _compared(
    first: asyncpg.Record, input: dict[str, Any], stored: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first run's input and a repeat's, to tell whether they are one request: as
    they came while the first run keeps its input as it came (it is unfinished, or
    held no secret), else both as stored, redacted (its end cleared its input)."""
    if first["unredacted_input"] is not None:
        return first["unredacted_input"], input
    if first["input_redacted"]:
        return first["input"] or {}, stored
    return first["input"] or {}, input


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON values: numbers by value (a stored ``1.0`` may come back ``1``),
    but ``true`` is not ``1``, and key order does not count."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
