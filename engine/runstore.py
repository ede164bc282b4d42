"""The run log: ``flowyard_runs`` (one row per run, for fast status) and
``flowyard_run_events`` (append-only; every run and block transition): storing
workflow versions and reading runs back. Accepting a run is engine/intake.py;
writing a live run's events is engine/recorder.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from engine._version_shapes import version_shape

FINAL_STATUSES = ("succeeded", "failed", "cancelled")
RUN_STATUSES = ("queued", "running", *FINAL_STATUSES)


def is_run_id(execution_id: str) -> bool:
    """Run ids are UUIDs: anything else is an unknown run, not a database error. Hex
    and hyphens only: uuid.UUID also reads `{…}` and `urn:uuid:…`, which PostgreSQL
    refuses (the read was a 500)."""
    text = str(execution_id)
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return set(text) <= set("0123456789abcdefABCDEF-")


async def beat(pool: asyncpg.Pool, owner: str, held: Sequence[str]) -> set[str]:
    """Mark the runs ``owner`` holds alive; those of them it still owns."""
    rows = await pool.fetch(
        "UPDATE flowyard_runs SET heartbeat_at = now() WHERE owner = $1"
        " AND execution_id = ANY($2::uuid[]) AND status IN ('queued', 'running')"
        " RETURNING execution_id",
        owner,
        list(held),
    )
    return {str(r["execution_id"]) for r in rows}


#: A run's row as every reader gets it: all but ``unredacted_input``, the input as
#: it came, which only executing the run reads (engine/intake.py).
_ROW = (
    "execution_id, workflow, workflow_hash, status, trigger, input, input_redacted,"
    " idempotency_key, output, error, owner, heartbeat_at, created_at, started_at,"
    " finished_at, concurrency_key, rerun_of, trigger_block"
)


#: What ``run_summary`` shows, and all a list reads: a run's input and output may be
#: megabytes each, and /runs polls 100 runs every 3 s. So may its error's message (a
#: Function raising with a response's text in it): a list keeps its first
#: LISTED_MESSAGE_CHARS characters, `GET /api/runs/<id>` the whole message.
LISTED_MESSAGE_CHARS = 2000
_LISTED = (
    "execution_id, workflow, status, trigger, created_at, started_at, finished_at,"
    " CASE WHEN length(error->>'message') > $1 THEN json_build_object('type', error->'type',"
    " 'message', left(error->>'message', $1) || ' … (' || length(error->>'message')"
    " || ' characters: the run has the whole message)', 'block', error->'block') ELSE error"
    " END AS error"
)


#: The most runs one listing gives: a caller wanting more pages on with ``before``.
MAX_LISTED = 1000


class NoSuchRun(LookupError):
    """A run id that names no run (never made, or pruned by retention since)."""


async def list_runs(
    pool: asyncpg.Pool,
    workflows: list[str] | None = None,
    status: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> list[dict[str, Any]]:
    """Newest first; ``workflows``: the names a workflow is known by (any of them);
    ``before``: only runs accepted before that run (the next page after it). Raises
    ``NoSuchRun`` when ``before`` names no run: an empty page would tell a client
    paging through runs that it reached the end, when its cursor's run was pruned."""
    cursor = None
    if before is not None:
        cursor = await pool.fetchrow(
            "SELECT created_at, execution_id FROM flowyard_runs WHERE execution_id = $1::uuid",
            before,
        )
        if cursor is None:
            raise NoSuchRun(before)
    sql, args = list_statement(workflows, status, cursor, limit)
    rows = await pool.fetch(sql, *args)
    return [run_summary(r) for r in rows]


def list_statement(
    workflows: list[str] | None,
    status: str | None,
    cursor: Mapping[str, Any] | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """The statement ``list_runs`` sends, and its arguments: only the filters given.

    One statement for every filter (``$1 IS NULL OR workflow = …``) was planned once
    per connection and then reused: PostgreSQL's generic plan for it, taken after a
    few lists, cannot use an index for a filter that may be absent, so on a year's
    million runs every filtered list (the /runs page polls one every 3 s) walked the
    whole run index: 0.25-1.1 s for a workflow with few runs or `?before=` the oldest.
    So the page's runs are found first, in an index that holds the filter and the
    list's order (migrations, schema version 11), each of a workflow's names through
    its own, newest first; then only those runs' rows are read."""
    args: list[Any] = [LISTED_MESSAGE_CHARS]
    where = []
    if status is not None:
        args.append(status)
        where.append(f"status = ${len(args)}::text")
    if cursor is not None:
        args += [cursor["created_at"], cursor["execution_id"]]
        n = len(args)
        where.append(f"(created_at, execution_id) < (${n - 1}::timestamptz, ${n}::uuid)")
    # The limit as a number, not a parameter: a generic plan takes a parameter's for
    # a tenth of the table, and read every run to hash-join them.
    order = (
        f" ORDER BY created_at DESC, execution_id DESC LIMIT {max(1, min(int(limit), MAX_LISTED))}"
    )
    if workflows is not None:
        args.append(sorted(set(workflows)))
        where.insert(0, "workflow = names.name")
    keys = "SELECT created_at, execution_id FROM flowyard_runs"
    keys += f" WHERE {' AND '.join(where)}{order}" if where else order
    if workflows is not None:
        keys = (
            f"SELECT named.* FROM unnest(${len(args)}::text[]) AS names(name)"
            f" CROSS JOIN LATERAL ({keys}) AS named{order}"
        )
    page = f"SELECT execution_id FROM ({keys}) AS page"
    sql = f"SELECT {_LISTED} FROM flowyard_runs WHERE execution_id IN ({page}){order}"
    return sql, args


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def fetch_events(
    pool: asyncpg.Pool, execution_id: str, after: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """The run's events after ``after``, in order: all of them (resuming, cancelling,
    re-running and reading a run need its whole log — a loop of 5,000 iterations
    writes 10,000), or a page of ``limit`` for a client that pages."""
    rows = await pool.fetch(
        "SELECT seq, type, block, data, at FROM flowyard_run_events"
        " WHERE execution_id = $1::uuid AND seq > $2 ORDER BY seq LIMIT $3",
        execution_id,
        after,
        limit,
    )
    return [event(r) for r in rows]


def event(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "seq": r["seq"],
        "type": r["type"],
        "block": r["block"],
        "data": r["data"],
        "at": _iso(r["at"]),
    }


#: An event's data without a block's inputs and output (as json: jsonb refuses "\u0000").
_OUTLINE = "coalesce((SELECT json_object_agg(key, value) FROM json_each(data) WHERE key NOT IN ('output', 'inputs')), '{}'::json)"


async def _top_level_events(
    pool: asyncpg.Pool, execution_id: str, outline: bool = False
) -> list[dict[str, Any]]:
    """The events ``blocks_from_events`` folds into a run's top-level records, the
    rest left in the database: a loop of 300,000 iterations logs 600,000 events
    inside its body, and reading them all to answer one ``GET /api/runs/<id>`` (or
    each poll of a sync wait) held ~900 MB of the server's memory for 5-8 s."""
    data = f"{_OUTLINE} AS data" if outline else "data"
    rows = await pool.fetch(
        f"SELECT seq, type, block, {data}, at FROM flowyard_run_events"
        " WHERE execution_id = $1::uuid AND (type = 'transaction_rolled_back'"
        " OR (strpos(block, '[') = 0 AND strpos(block, '.') = 0)) ORDER BY seq",
        execution_id,
    )
    return [event(r) for r in rows]


async def fetch_run_row(pool: asyncpg.Pool, execution_id: str) -> asyncpg.Record | None:
    if not is_run_id(execution_id):
        return None
    return await pool.fetchrow(
        f"SELECT {_ROW} FROM flowyard_runs WHERE execution_id = $1::uuid", execution_id
    )


async def input_as_it_came(pool: asyncpg.Pool, execution_id: str) -> Any:
    """The input of a run whose stored input is redacted, as it came: None once the
    run has ended (its end cleared it)."""
    return await pool.fetchval(
        "SELECT unredacted_input FROM flowyard_runs WHERE execution_id = $1::uuid", execution_id
    )


def first_start(events: list[dict[str, Any]]) -> float | None:
    """When a run first started, from its log (None: it has not): a resumed run's row
    keeps that start, and so does the result its caller gets."""
    at = next((e["at"] for e in events if e["type"] == "run_started"), None)
    return datetime.fromisoformat(at).timestamp() if at else None


def run_summary(row: asyncpg.Record) -> dict[str, Any]:
    """A run as a list shows it: the columns of ``_LISTED``."""
    return {
        "execution_id": str(row["execution_id"]),
        "workflow": row["workflow"],
        "status": row["status"],
        "trigger": row["trigger"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "error": row["error"],
    }


def unstarted_record() -> dict[str, Any]:
    """A stored block record before anything happened to it. Every record has these
    keys, whatever its status, so a client reads them without checking for each."""
    return {
        "status": "pending",
        "attempts": 0,
        "duration_ms": None,
        "started_at": None,
        "finished_at": None,
        "output": None,
        "error": None,
        "inputs": None,
        "port": None,
        # The run this block's result was carried over from (a re-run from the
        # failed block), or None: it ran in this run.
        "reused_from": None,
        # Its writes were undone with its transaction group when the run failed or
        # was cancelled: `succeeded` says it ran, not that its effect is kept.
        "rolled_back": False,
    }


#: The same in the result of a run its caller waited for (the executor's shape).
UNSTARTED_RESULT: Mapping[str, Any] = {
    "status": "pending",
    "attempts": 0,
    "duration_ms": None,
    "output": None,
    "error": None,
}


#: The SPEC's run result: what a caller that waited for a run gets (`flowyard run
#: --json`, a sync webhook, `?wait=1`), and its blocks' keys.
RESULT_KEYS = ("execution_id", "workflow", "status", "started_at", "finished_at", "output", "error")
RESULT_BLOCK_KEYS = tuple(UNSTARTED_RESULT)


def waited_result(run: Mapping[str, Any]) -> dict[str, Any]:
    """The SPEC's run result of ``run``: the result the executor built (this process
    ran it) or the stored record (``run_result``: another process ran it, or ended it).
    One shape either way: the stored record's ``trigger``, ``file``, ``input`` and
    per block ``inputs``, ``port``… are for `GET /api/runs/<id>`, not a waiter; a
    block keeps ``rolled_back: true`` where its transaction group was undone."""
    result = {key: run.get(key) for key in RESULT_KEYS}
    blocks: dict[str, dict[str, Any]] = {}
    for bid, rec in (run.get("blocks") or {}).items():
        blocks[bid] = {key: rec.get(key) for key in RESULT_BLOCK_KEYS}
        if rec.get("rolled_back"):
            blocks[bid]["rolled_back"] = True
    result["blocks"] = blocks
    return result


def every_block(
    top: Sequence[str], records: dict[str, dict[str, Any]], unstarted: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The run's top-level blocks in flow order (``top``: rows do not move while a run
    goes on), each with its record or a copy of ``unstarted``: a block is `pending`
    until it starts, and stays so in a run that ended before reaching it
    (docs/engine.md, "Run records"). Records the plan does not name follow."""
    listed = {bid: records.get(bid) or dict(unstarted) for bid in top}
    listed.update((bid, rec) for bid, rec in records.items() if bid not in listed)
    return listed


def with_paths_inside(
    top: dict[str, dict[str, Any]], every: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``top`` (a run's blocks) with, after each, the records of the paths inside it
    (``fold[3].add``) from ``every`` (blocks_from_events(..., top_level_only=False))."""
    inside: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path, rec in every.items():
        root = re.split(r"[.\[]", path, maxsplit=1)[0]
        if root != path:
            inside.setdefault(root, []).append((path, rec))
    listed: dict[str, dict[str, Any]] = {}
    for bid, rec in top.items():
        listed[bid] = rec
        listed.update(inside.pop(bid, []))
    for rest in inside.values():
        listed.update(rest)
    return listed


def blocks_from_events(
    events: list[dict[str, Any]], top_level_only: bool = True, into: dict | None = None
) -> dict[str, dict[str, Any]]:
    """Fold block events into per-block records (status, attempts, timings, output,
    error); ``into``: records folded so far (a long log read page by page)."""
    blocks: dict[str, dict[str, Any]] = {} if into is None else into
    for ev in events:
        path = ev["block"]
        if ev["type"] == "transaction_rolled_back":
            for member in (ev["data"] or {}).get("blocks", ()):
                if member in blocks:
                    blocks[member]["rolled_back"] = True
            continue
        if path is None or (top_level_only and ("[" in path or "." in path)):
            continue
        rec = blocks.get(path)
        if rec is None:
            rec = blocks[path] = unstarted_record()
        data = ev["data"] or {}
        kind = ev["type"]
        if kind == "block_started":
            rec["status"] = "running"
            rec["attempts"] = data.get("attempt", rec["attempts"] + 1)
            rec["started_at"] = rec["started_at"] or ev["at"]
            # Started again after an interruption (a resume): the old end is history.
            rec["error"] = None
            rec["finished_at"] = None
            rec["rolled_back"] = False
        elif kind in ("block_succeeded", "block_failed"):
            rec["status"] = "succeeded" if kind == "block_succeeded" else "failed"
            for key in (
                "output",
                "error",
                "duration_ms",
                "inputs",
                "attempts",
                "port",
                "reused_from",
            ):
                if key in data:
                    rec[key] = data[key]
            rec["finished_at"] = ev["at"]
        elif kind == "block_skipped":
            rec["status"] = "skipped"
        elif kind == "block_retrying":
            rec["attempts"] = data.get("attempt", rec["attempts"])
    return blocks


async def run_status(pool: asyncpg.Pool, execution_id: str) -> str | None:
    """Only the run's status (None: no such run): what a poller needs, without
    reading and folding every event of a long run."""
    return await pool.fetchval(
        "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid", execution_id
    )


async def run_result(
    pool: asyncpg.Pool, execution_id: str, outline: bool = False
) -> dict[str, Any] | None:
    """The SPEC's run result, read back from the run row and its events; ``blocks``
    lists every top-level block of the run's workflow version. ``outline``: without
    blocks' inputs and outputs, for a table (`runs show` read a 50 MB output and the
    next block's input of it, 900 MB of memory, to print 10 lines)."""
    row = await fetch_run_row(pool, execution_id)
    if row is None:
        return None
    events = await _top_level_events(pool, execution_id, outline)
    result = run_summary(row)
    result["file"], top = await version_shape(pool, row["workflow_hash"])
    result["input"] = row["input"]
    result["output"] = row["output"]
    result["blocks"] = every_block(top, blocks_from_events(events), unstarted_record())
    return result
