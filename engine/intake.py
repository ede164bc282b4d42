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
A repeat of a run that retention has pruned is answered with that run too
(``pruned``): its key outlives it (engine/pruned_keys.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import asyncpg

from engine import pruned_keys
from engine._accept_sql import (
    FIRST,
    FIRST_EARLIER,
    RELEASE,
    RERUN_STANDING,
    TICK_TAKEN,
    accept_sql,
)
from engine._json import dumps
from engine._key_scopes import ScopedKey, key_scope
from engine.queue import DEFAULT_QUEUE

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
    pruned: bool = False  # the earlier delivery's run was since pruned (retention)


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
    earlier_keys: Sequence[str] = (),
    deployment: str = DEFAULT_QUEUE,
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
    up in that block's namespace (engine/_key_scopes.py). ``deployment``: the
    accepting process's FLOWYARD_QUEUE, whose processes alone execute the run.

    ``earlier_keys`` (with ``same_request``): the forms earlier releases stored the
    same key in (blocks/_earlier_keys.py); a run without a scope holding one of them
    holds the key. Empty for most keys: the statement is then the one without them."""
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
    try:
        if same_request is not None:
            forms = [idempotency_key, *earlier_keys] if earlier_keys and idempotency_key else []
            sql = accept_sql(
                queue is not None, bool(carried), notify, seen=True, earlier=bool(forms)
            )
            args += [raw, rerun_of, trigger_block, holder.scope, deployment]
            args += [forms] if forms else []
            lookup = (FIRST_EARLIER, (*holder, forms)) if forms else (FIRST, tuple(holder))
            return await _accept_delivery(pool, sql, args, lookup, (input, stored), same_request)
        if tick is not None:
            args += [*tick, raw, holder.scope, deployment]
        else:
            args += [raw, rerun_of, trigger_block, holder.scope, deployment]
        sql = accept_sql(queue is not None, bool(carried), notify, ticked=tick is not None)
        return await _accept_run(pool, sql, args, holder, tick)
    except asyncpg.UniqueViolationError as exc:
        if not pruned_keys.takes_a_pruned_key(exc):
            raise
        # A repeat of a delivery whose run retention pruned: answered with that run.
        eid = await pruned_keys.pruned_holder(pool, holder)
        if eid is None:  # its row deleted by hand meanwhile: the sender's retry runs
            raise IdempotencyBusy(str(idempotency_key)) from None
        return Accepted(eid, False, pruned=True)


async def _accept_run(
    pool: asyncpg.Pool,
    sql: str,
    args: list[Any],
    holder: ScopedKey,
    tick: tuple[str, dt.datetime] | None,
) -> Accepted:
    """Any run but a webhook delivery: a repeated key is answered with its run."""
    for _ in range(_ROUNDS):
        args[0] = eid = new_execution_id()
        if await pool.fetchrow(sql, *args) is not None:
            return Accepted(eid, True)
        first = await pool.fetchrow(FIRST, *holder)
        if first is not None:
            return Accepted(str(first["execution_id"]), False)
        # The tick was taken, its run since pruned (retention): it runs once.
        taken = tick and await pool.fetchrow(TICK_TAKEN, holder.workflow, *tick)
        if taken:
            return Accepted(str(taken["execution_id"]), False)
        # released meanwhile (a webhook's retry took it): try again
    raise IdempotencyBusy(str(holder.key))


#: How a webhook's repeat finds its key's run: :data:`FIRST` or :data:`FIRST_EARLIER`,
#: and its parameters (the second is the key as sent).
FirstLookup = tuple[str, tuple[Any, ...]]


async def _accept_delivery(
    pool: asyncpg.Pool,
    sql: str,
    args: list[Any],
    lookup: FirstLookup,
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
        accepted = await _repeat(pool, sql, args, lookup, input, same_request, retry_of)
        if accepted is not None:
            return accepted
        # The key was moved (or its run pruned) between two statements: whoever
        # holds it now is found by the INSERT; if nobody does, this delivery runs.
        _, accepted = await _insert_new(pool, sql, args)
        if accepted is not None:
            return accepted
    raise IdempotencyBusy(str(lookup[1][1]))


async def _insert_new(
    pool: asyncpg.Pool, sql: str, args: list[Any]
) -> tuple[asyncpg.Record, Accepted | None]:
    """The accepting statement under a new execution id: its row, and the new run
    when it was inserted (None: the key has a holder, which the row names) — or the
    pruned run that held the key in an earlier form (engine/pruned_keys.py)."""
    args[0] = eid = new_execution_id()
    row = await pool.fetchrow(sql, *args)
    if row["execution_id"] is not None:
        return row, Accepted(eid, True)
    pruned = row.get("pruned_id") if row["seen_id"] is None else None
    return row, None if pruned is None else Accepted(str(pruned), False, pruned=True)


async def _repeat(
    pool: asyncpg.Pool,
    sql: str,
    args: list[Any],
    lookup: FirstLookup,
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
        sql_first, params = lookup
        first = await conn.fetchrow(sql_first + " FOR UPDATE", *params)
        if first is None:
            return None
        first_id = str(first["execution_id"])
        if not same_request(*_compared(first, *input)):
            raise IdempotencyConflict(str(params[1]), first_id)
        if first_id != retry_of or first["status"] not in _RETRYABLE:
            # Queued, running or succeeded; or it failed after this delivery arrived
            # (the delivery is a copy of the one that started it, not a retry); or it
            # is a concurrent retry's new run.
            return Accepted(first_id, False)
        # An operator re-ran the failed run (the customer system back, say) and that
        # re-run is doing or did the delivery's work: the sender's retry is answered
        # with it, not a second run beside it repeating its effects (a capture, an
        # event appended) — the key stays with the failed run, for a retry should the
        # re-run fail too.
        rerun = await conn.fetchval(RERUN_STANDING, first["execution_id"])
        if rerun is not None:
            return Accepted(str(rerun), False)
        # As the run holds it: an earlier release's form, maybe (it moves to the new
        # run in the form sent now).
        await conn.execute(RELEASE, first["execution_id"], first["idempotency_key"])
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
        return first["input"] or {}, _redacted_as(first["input"], stored, input)
    return first["input"] or {}, input


def _redacted_as(first: Any, stored: Any, input: Any) -> Any:
    """The repeat redacted where the first run's stored input is: each value as this
    release stores it where the first run has that form, else as it came. The first
    run may have been accepted by an earlier release that redacted less (8e57f3c kept
    an HTTP URL's password in clear): compared redacted as a whole, the sender's
    retry of its delivery was "a different request" (a 409) after the upgrade. A value
    this release keeps in clear is compared as sent, as before."""
    if isinstance(stored, dict) and isinstance(input, dict):
        mine = first if isinstance(first, dict) else {}
        return {k: _redacted_as(mine.get(k), stored.get(k), v) for k, v in input.items()}
    if isinstance(stored, list) and isinstance(input, list) and len(stored) == len(input):
        mine = (
            first if isinstance(first, list) and len(first) == len(input) else [None] * len(input)
        )
        return [_redacted_as(f, s, v) for f, s, v in zip(mine, stored, input, strict=True)]
    return stored if same_json(first, stored) else input


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
