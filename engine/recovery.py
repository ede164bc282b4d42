"""What a resumed run may keep from the run it continues.

A ``block_succeeded`` event is proof that a block finished — unless the block
wrote inside a transaction group that never committed: its writes were rolled
back with the dead connection. Such blocks, and every block downstream of them
(their outputs may have been computed from the rolled-back reads), run again.
Keeping them would lose the event the transaction was appending.

A record whose output had a secret redacted (``***``) or was too big to store
cannot be restored. Its block runs again when that applies nothing twice (its
handler is ``repeatable``: a Function, an HTTP request with its Idempotency-Key);
any other (a Database statement, a Slack post, an email) is not run again: the
record is kept as it is, and :func:`not_resumable` fails the run on it. The
same rule holds for a re-run from the failed block (:func:`rerun_reusable`).
"""

from __future__ import annotations

import os
import socket
from typing import Any

import asyncpg
import networkx as nx
import psutil

from engine.graph import Plan
from engine.handoff import HANDOFF, in_acceptance_order
from engine.references import references_in

#: The error type of a run that stopped on a block it can neither restore nor repeat.
NOT_RESUMABLE = "NotResumable"


def _top_level(path: str) -> str:
    """`fold[3].add` → `fold`; `lock` → `lock`."""
    return path.split("[", 1)[0].split(".", 1)[0]


def _block_id(path: str) -> str:
    """`fold[3].add` → `add`; `lock` → `lock`."""
    return path.rsplit(".", 1)[-1].split("[", 1)[0]


def _lost(data: dict[str, Any]) -> str | None:
    """Why a block's record cannot be restored (its output is not in it), or None."""
    if data.get("redacted"):
        return "its output held a secret (a value read through <env.…>), so it was stored redacted"
    if data.get("omitted"):
        return "its output was too big to record"
    return None


def restorable(
    plan: Plan,
    events: list[dict[str, Any]],
    handled_failures: bool = False,
    keep_lost: bool = False,
) -> dict[str, dict[str, Any]]:
    """Completed block records (path → output, port, …) a resumed run can reuse —
    and, kept as they are, the records of blocks it can neither reuse nor run again
    (:func:`not_resumable` finds them).

    ``handled_failures``: also a failure its block handled (``on_error: continue``),
    recorded with the ``{error: …}`` output and the port the run went on by. A
    resume reuses it (the run had already gone on from it); a re-run "from the
    failed block" does not (it runs failed blocks again).

    ``keep_lost``: keep every record that lost its output, repeatable or not — what
    succeeded and stands, restorable or not (:func:`rerun_reusable`)."""
    done: dict[str, dict[str, Any]] = {}
    for ev in events:
        data = ev["data"] or {}
        if ev["type"] == "block_succeeded":
            status = "succeeded"
        elif ev["type"] == "block_failed" and handled_failures and data.get("handled"):
            # Recorded with its output and port (a record from before they were is
            # not: ``port`` missing, the block runs again).
            if "port" not in data:
                continue
            status = "failed"
        else:
            continue
        if _lost(data):
            # No output to hand on (``***`` where a secret was, or too big): its block
            # runs again if that repeats nothing; any other's record is kept as it is.
            handler = plan.handlers.get(_block_id(ev["block"]))
            if not keep_lost and (handler is None or handler.repeatable):
                continue
        done[ev["block"]] = {"status": status, **data}
    committed = {ev["data"]["group"] for ev in events if ev["type"] == "transaction_committed"}
    invalid: set[str] = set()
    rolled_back: set[str] = set()  # members of groups that did not commit
    for name, units in plan.transaction_groups.items():
        if name in committed:
            continue
        # Its top-level members, and the outermost containers of the others: they
        # run again, their bodies whole.
        invalid |= units
        rolled_back |= _group_blocks(plan, name)
    top = plan.top.graph()
    for node in list(invalid):
        if node in top:
            invalid |= nx.descendants(top, node)
    # A kept record that lost its output stays, unless its own writes were rolled
    # back (running it again then writes them once): its effect stands.
    return {
        path: rec
        for path, rec in done.items()
        if _top_level(path) not in invalid or (_lost(rec) and _block_id(path) not in rolled_back)
    }


def not_resumable(restored: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """The blocks a run cannot go on past, with their ``NotResumable`` errors: each
    completed before (before a restart, or in the run a re-run repeats), its record
    lost its output, and running it again would apply its effect twice. A block in
    the body of a container whose record is kept is left out: it does not run."""
    stuck = []
    for path, rec in restored.items():
        why = _lost(rec)
        if why is None or _inside_kept(path, restored):
            continue
        earlier = rec.get("reused_from")
        when = f"in run {earlier}, which this run re-runs" if earlier else "before the run stopped"
        message = (
            f"block {path!r} completed {when}, but {why} and cannot be restored. It is not "
            "run again, since its effect would be applied twice: check what it did, then "
            "run the workflow again"
        )
        stuck.append((path, {"type": NOT_RESUMABLE, "message": message, "block": path}))
    return stuck


def _inside_kept(path: str, restored: dict[str, dict[str, Any]]) -> bool:
    """Whether a container holding ``path`` (`outer[0].inner[2].add`: `outer`,
    `outer[0].inner`) has a record that is reused, so its body does not run."""
    cut = path.find("[")
    while cut != -1:
        container = restored.get(path[:cut])
        if container is not None and _lost(container) is None:
            return True
        cut = path.find("[", cut + 1)
    return False


def rerun_reusable(plan: Plan, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What a re-run "from the failed block" carries over: :func:`restorable`'s
    records, less every block downstream of one that did not succeed (it failed,
    or its transaction group rolled back). Those ran on what the failed one gave
    then: a capture that now succeeds was recorded "failed" by the reused step
    after it, and the run failed again for a charge that was captured. A block
    that succeeded but runs again only because its record lost its output (a
    Function whose output held a secret) gives what it gave: the records after it
    stand, as a resume keeps them — else an INSERT after it was applied twice.
    A top-level condition reading ``<workflow.rerun_of>`` is evaluated again, and
    the blocks after it run again (:func:`asks_if_rerun`)."""
    done = restorable(plan, events)
    stands = restorable(plan, events, keep_lost=True)
    top = plan.top.graph()
    ran = {_top_level(ev["block"]) for ev in events if ev["type"] == "block_started"}
    again = {node for node in ran if node in top and node not in stands}
    # A condition that asks whether this is a re-run was answered "no" by the run
    # repeated: the re-run asks it again, and what follows it runs again (a
    # workflow reads there what stands now instead of the lists it carried over).
    asks = asks_if_rerun(plan) & ran
    again |= asks
    done = {path: rec for path, rec in done.items() if path not in asks}
    stale = set().union(*(nx.descendants(top, node) for node in again)) if again else set()
    # A record that lost its output is kept all the same: its block cannot run again
    # (not_resumable fails the re-run on it), and dropped it would.
    return {path: rec for path, rec in done.items() if _top_level(path) not in stale or _lost(rec)}


#: The event a re-run from the failed block is accepted with, saying whose
#: idempotency keys it sends (``{"key_of": execution id}``): written whatever it
#: carries over, also nothing at all (its first block failed).
RERUN_KEYS = "rerun_keys"


def key_base(events: list[dict[str, Any]], execution_id: str) -> str:
    """Whose idempotency keys run ``execution_id`` (of these ``events``) sends: its
    own, or for a re-run from the failed block, those of the run it repeats — kept on
    its :data:`RERUN_KEYS` event, or (a re-run accepted before that event was) on the
    records it carried over."""
    for ev in events:
        key_of = (
            (ev["data"] or {}).get("key_of")
            if ev["type"] in (RERUN_KEYS, "block_succeeded")
            else None
        )
        if key_of:
            return str(key_of)
    return execution_id


def rerun_records(
    plan: Plan, events: list[dict[str, Any]], execution_id: str
) -> dict[str, dict[str, Any]]:
    """What a re-run from the failed block of run ``execution_id`` carries over: the
    :func:`rerun_reusable` records, each marked ``reused_from`` that run. The blocks
    that run again send the earlier run's idempotency keys (``key_of``, the
    :func:`key_base` of ``events``; a re-run of a re-run: the first run's): its HTTP
    POST may have reached the peer before the run failed (a timeout), and a new key
    would make the peer do it twice."""
    done = rerun_reusable(plan, events)
    key_of = key_base(events, execution_id)
    return {p: {**rec, "reused_from": execution_id, "key_of": key_of} for p, rec in done.items()}


def asks_if_rerun(plan: Plan) -> set[str]:
    """The top-level condition blocks that read ``<workflow.rerun_of>``: a re-run
    from the failed block evaluates them again (:func:`rerun_reusable`)."""
    return {
        node
        for node in plan.top.nodes
        if plan.workflow.blocks[node].type == "condition"
        and any(
            ref.root == "workflow" and ref.path[:1] == ("rerun_of",)
            for ref in references_in(plan.workflow.blocks[node].config)
        )
    }


def logged_skips(events: list[dict[str, Any]]) -> frozenset[str]:
    """The blocks a run's log shows skipped (their last event says so). A resumed run
    settles its restored blocks again, skipping the same branches: those are not
    logged a second time. One that ran since (a branch taken after all) is not here."""
    last: dict[str, str] = {}
    for ev in events:
        if ev["block"] is not None and ev["type"].startswith("block_"):
            last[ev["block"]] = ev["type"]
    return frozenset(path for path, kind in last.items() if kind == "block_skipped")


def carried_events(
    plan: Plan, reuse: dict[str, dict[str, Any]], key_of: str
) -> list[tuple[str, str | None, dict[str, Any]]]:
    """The events that record a re-run's carried-over blocks in the new run, after
    the :data:`RERUN_KEYS` event naming whose idempotency keys it sends (``key_of``):
    the records alone said it, so a re-run carrying none sent keys of its own.

    Written when the run is accepted (not when it executes), so a worker in
    another process, or a resume after a crash, reuses them too instead of
    repeating effects that already happened. ``reuse`` came from
    :func:`restorable`, which keeps transaction-group members only when their
    group committed: the new run records that commit as well, or its own resume
    would discard them.
    """
    blocks = {_block_id(path) for path in reuse}
    groups = [name for name in plan.transaction_groups if _group_blocks(plan, name) & blocks]
    return [
        (RERUN_KEYS, None, {"key_of": key_of}),
        *(("transaction_committed", None, {"group": g, "carried": True}) for g in sorted(groups)),
        *(
            ("block_succeeded", path, {k: v for k, v in rec.items() if k != "status"})
            for path, rec in reuse.items()
        ),
    ]


def _group_blocks(plan: Plan, name: str) -> set[str]:
    """Every member of group ``name``, in container bodies too (the plan's
    membership holds the top-level blocks that decide when it commits: members, and
    the containers holding the others)."""
    return {
        block.id
        for block in plan.workflow.blocks.values()
        if block.type == "database" and block.config.get("transaction") == name
    }


# -- who owns a run ------------------------------------------------------------------

STALE_AFTER_S = 60.0  # a run whose owner has not beaten for this long may be taken over


def owner_id() -> str:
    """This process, as a run owner: ``host:pid:process-start`` (pids get reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{int(psutil.Process().create_time())}"


def owner_dead(owner: str | None) -> bool:
    """Whether a run's owner is a process of this host that no longer exists."""
    if not owner:
        return True
    try:
        host, pid_s, started = owner.rsplit(":", 2)
        pid = int(pid_s)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False  # another machine: rely on its heartbeat going stale
    try:
        proc = psutil.Process(pid)
        # A killed process not yet reaped by its parent is a zombie: dead all the same.
        return int(proc.create_time()) != int(started) or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


_CLAIM = f"""
    UPDATE flowyard_runs SET owner = $1, heartbeat_at = now()
     WHERE status IN ('queued', 'running') AND owner IS DISTINCT FROM $1
       AND ($4::uuid IS NULL OR execution_id = $4::uuid)
       -- only this deployment's runs: another's executes with its own environment
       AND queue = $7
       AND ((owner IS NULL AND $5::bool)  -- a queued run: claimed by its job only
            -- a dead owner's run with a concurrency key: at once only by the process
            -- that orders keys (engine/key_order.py), else once it is silent too
            OR (owner = ANY($2::text[]) AND (concurrency_key IS NULL OR $6::bool))
            -- a silent owner; a run waiting for the engine process is claimed by it only
            OR (owner <> '{HANDOFF}' AND heartbeat_at < now() - make_interval(secs => $3)))
    -- not the input: a start resuming a backlog read them all at once (2,884 runs of
    -- 500 KB: 2.2 GB); each is read when its run's turn comes (engine/run_execution.py)
    RETURNING execution_id, workflow_hash, concurrency_key, created_at, rerun_of, trigger_block
"""


#: The other owners of unfinished runs, and whether one has gone silent: a running
#: process looks every heartbeat, so this read (on the unfinished-runs index) is
#: all a look costs while there is nothing to take over. Runs nobody owns (queued
#: for a worker) or handed to the engine process are never taken this way.
_OWNERS = f"""
    SELECT owner, bool_or(heartbeat_at < now() - make_interval(secs => $3)) AS silent
      FROM flowyard_runs
     WHERE status IN ('queued', 'running') AND owner <> $1 AND owner <> '{HANDOFF}'
       AND ($2::uuid IS NULL OR execution_id = $2::uuid) AND queue = $4
     GROUP BY owner
"""


async def claim(
    pool: asyncpg.Pool,
    me: str,
    execution_id: str | None = None,
    *,
    deployment: str,
    queued: bool = False,
    keyed: bool = True,
) -> list[asyncpg.Record]:
    """Take over runs of dead or silent owners (all, or one), in acceptance order,
    of ``deployment`` only (its FLOWYARD_QUEUE: engine/deployments.py);
    with ``queued``, also an unowned queued run (a queue job claiming its run).
    Without ``keyed``, a dead owner's runs with a concurrency key are left until
    they are silent (STALE_AFTER_S): a process that does not order keys, looking
    while it runs, leaves them to the one that does, or to a `serve` restarted at
    once, which resumes them before it accepts the key's next run.

    The claim is one UPDATE whose conditions are checked again on each row it
    locks: of two processes claiming at once, the second waits for the first and
    then finds the run owned by a live process, so it takes nothing."""
    owners = await pool.fetch(_OWNERS, me, execution_id, STALE_AFTER_S, deployment)
    dead = [r["owner"] for r in owners if r["owner"] and owner_dead(r["owner"])]
    if not (dead or queued or any(r["silent"] for r in owners)):
        return []
    return in_acceptance_order(
        await pool.fetch(_CLAIM, me, dead, STALE_AFTER_S, execution_id, queued, keyed, deployment)
    )
