"""Accepting a run: the run row and its first event in one statement, before anyone
is told "accepted" — and what a repeated idempotency key means.

A key names one delivery. For most callers (a schedule's tick, a re-run) a repeat
is answered with the first run, whatever became of it. For a webhook sender a
repeat is a *retry*, and two rules keep it from losing or mixing up events:

- a retry of a delivery whose run **failed or was cancelled** starts a new run (the
  first stored nothing a resend would duplicate: its transactions rolled back), and
  the key moves to the new run — the sender's standard retry is how it recovers;
- a repeat whose request is **not the same** (another body or query) is refused
  with :class:`IdempotencyConflict`: a key reused for a different event must not
  silently drop that event (what Stripe answers too: the key was used with other
  parameters).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import asyncpg

from engine._json import dumps
from engine.handoff import ACCEPTED
from engine.queue import DEFER_TAIL

#: Tells whether a repeated delivery (stored input, new input) is the same request.
SameRequest = Callable[[dict[str, Any], dict[str, Any]], bool]

#: How often a retry tries to take the key from a failed run before it gives up
#: (each round loses only to a concurrent delivery of the same key, which then owns it).
_ROUNDS = 3


def new_execution_id() -> str:
    return str(uuid.uuid4())


class Accepted(NamedTuple):
    execution_id: str
    created: bool  # False: an earlier delivery with the same key owns the run
    retry_of: str | None = None  # the failed or cancelled run this delivery retries


class IdempotencyConflict(Exception):
    """The idempotency key is already the key of a run for a different request."""

    def __init__(self, key: str, execution_id: str) -> None:
        self.key, self.execution_id = key, execution_id
        super().__init__(
            f"the idempotency key {key!r} was already used for a different request "
            f"(run {execution_id}); a new event needs a new key"
        )


_ACCEPT = """
    WITH ins AS (
        INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, trigger, input,
                                   idempotency_key, owner, heartbeat_at, concurrency_key)
        VALUES ($1::uuid, $2, $3, 'queued', $4, $5::jsonb, $6, $7, now(), $8)
        ON CONFLICT (workflow, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING execution_id
    ), ev AS (
        INSERT INTO flowyard_run_events (execution_id, seq, type, data)
        SELECT execution_id, 1, 'run_queued', jsonb_build_object('trigger', $4::text) FROM ins
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
        SELECT execution_id, 1 + c.n, c.type, c.block, c.data::jsonb
          FROM ins, unnest(${0}::text[], ${1}::text[], ${2}::text[])
               WITH ORDINALITY AS c(type, block, data, n)
    )
"""


@functools.cache  # one text per combination, built once (accepting is the hot path)
def _accept_sql(queued: bool, carried: bool, notify: bool) -> str:
    head = _ACCEPT.removesuffix(_TAIL)
    first = 10 if queued else 9  # the parameters after the accept's (and the job's)
    extra = _CARRIED.format(first, first + 1, first + 2) if carried else ""
    return head + extra + (DEFER_TAIL if queued else _NOTIFY_TAIL if notify else _TAIL)


_FIRST = """
    SELECT execution_id, status, input FROM flowyard_runs
     WHERE workflow = $1 AND idempotency_key = $2
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
) -> Accepted:
    """Durably accept a run in one statement: the run row (with its concurrency
    ``key``) and its `run_queued` event; with ``queue``, its procrastinate job
    (``key`` as the job's lock); with ``notify``, a NOTIFY for the engine process
    it is handed to; with ``carried``, events a re-run takes over.

    A repeated idempotency key returns the first run (``created`` False). With
    ``same_request`` (a webhook's retry rules, above) a repeat of a failed or
    cancelled run starts a new one, and a different request raises
    :class:`IdempotencyConflict`."""
    args: list[Any] = [None, workflow, version, trigger, input, idempotency_key, owner, key]
    if queue is not None:
        args.append(queue)
    if carried:
        args += [list(c) for c in zip(*((t, b, dumps(d)) for t, b, d in carried), strict=True)]
    sql = _accept_sql(queue is not None, bool(carried), notify)
    for _ in range(_ROUNDS):
        args[0] = eid = new_execution_id()
        if await pool.fetchrow(sql, *args) is not None:
            return Accepted(eid, True)
        if same_request is None:
            first = await pool.fetchrow(_FIRST, workflow, idempotency_key)
            if first is not None:
                return Accepted(str(first["execution_id"]), False)
            continue  # released meanwhile (a webhook's retry took it): try again
        accepted = await _repeat(pool, sql, args, workflow, idempotency_key, input, same_request)
        if accepted is not None:
            return accepted
    # Each round lost to a concurrent delivery of the key whose run then failed too:
    # nothing was accepted, and the sender's next retry is answered anew.
    raise RuntimeError(f"the idempotency key {idempotency_key!r} kept changing hands; retry")


async def _repeat(
    pool: asyncpg.Pool,
    sql: str,
    args: list[Any],
    workflow: str,
    idempotency_key: str | None,
    input: dict[str, Any],
    same_request: SameRequest,
) -> Accepted | None:
    """A webhook's repeat: the first run, a conflict, or — its run failed or was
    cancelled — a new run taking the key over. The first run's row stays locked from
    the check to the new run's insert, so a concurrent delivery of the same key (the
    same request or another) waits and then judges against the new run: a different
    body can never slip in between and take the key from the sender's retries.
    None: the key was released meanwhile; try again."""
    async with pool.acquire() as conn, conn.transaction():
        first = await conn.fetchrow(_FIRST + " FOR UPDATE", workflow, idempotency_key)
        if first is None:
            return None
        first_id = str(first["execution_id"])
        if not same_request(first["input"] or {}, input):
            raise IdempotencyConflict(str(idempotency_key), first_id)
        if first["status"] not in ("failed", "cancelled"):
            return Accepted(first_id, False)
        await conn.execute(_RELEASE, first["execution_id"], idempotency_key)
        args[0] = eid = new_execution_id()
        if await conn.fetchrow(sql, *args) is None:
            return None  # cannot happen while the row is locked; judged again if it does
        return Accepted(eid, True, first_id)


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
