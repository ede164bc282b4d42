"""The run log: ``flowyard_runs`` (one row per run, for fast status) and
``flowyard_run_events`` (append-only; every run and block transition).

Writes are buffered per run and flushed in one multi-row statement: before a
block with effects outside the run starts, every ``FLUSH_INTERVAL`` while a run
is live, and when it ends ("checkpoint before side effects", DESIGN.md 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from engine.queue import DEFER_TAIL

FINAL_STATUSES = ("succeeded", "failed", "cancelled")


def new_execution_id() -> str:
    return str(uuid.uuid4())


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
    "    SELECT execution_id FROM ins, pg_notify('flowyard_accepted', execution_id::text) AS n\n"
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


def _accept_sql(queued: bool, carried: bool, notify: bool) -> str:
    head = _ACCEPT.removesuffix(_TAIL)
    first = 10 if queued else 9  # the parameters after the accept's (and the job's)
    extra = _CARRIED.format(first, first + 1, first + 2) if carried else ""
    return head + extra + (DEFER_TAIL if queued else _NOTIFY_TAIL if notify else _TAIL)


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
) -> tuple[str, bool]:
    """Durably accept a run in one statement: the run row (with its concurrency
    ``key``) and its `run_queued` event; with ``queue``, its procrastinate job
    (``key`` as the job's lock); with ``notify``, a NOTIFY for the engine process
    it is handed to; with ``carried``, events a re-run takes over. Returns
    (execution id, created); a repeated idempotency key returns the first run's id
    and False."""
    eid = new_execution_id()
    args: list[Any] = [eid, workflow, version, trigger, input, idempotency_key, owner, key]
    if queue is not None:
        args.append(queue)
    if carried:
        args += [list(c) for c in zip(*((t, b, dumps(d)) for t, b, d in carried), strict=True)]
    row = await pool.fetchrow(_accept_sql(queue is not None, bool(carried), notify), *args)
    if row is not None:
        return eid, True
    first = await pool.fetchval(
        "SELECT execution_id FROM flowyard_runs WHERE workflow = $1 AND idempotency_key = $2",
        workflow,
        idempotency_key,
    )
    return str(first), False


async def save_version(pool: asyncpg.Pool, workflow: Any, known: set[str]) -> str:
    """Store the workflow document by content hash (once; ``known`` caches what is stored),
    so a run always executes — and resumes with — the version it was accepted with."""
    version = workflow.content_hash
    if not version:  # once per loaded workflow, not once per run
        text = json.dumps(workflow.source, sort_keys=True, default=str)
        version = hashlib.sha256((workflow.file + "\0" + text).encode()).hexdigest()[:32]
        workflow.content_hash = version
    if version not in known:
        await pool.execute(
            "INSERT INTO flowyard_workflow_versions (hash, name, file, source) VALUES ($1, $2, $3, $4::jsonb)"
            " ON CONFLICT (hash) DO NOTHING",
            version,
            workflow.name,
            workflow.file,
            workflow.source,
        )
        known.add(version)
    return version


async def beat(pool: asyncpg.Pool, owner: str) -> None:
    await pool.execute(
        "UPDATE flowyard_runs SET heartbeat_at = now() WHERE owner = $1 AND status IN ('queued', 'running')",
        owner,
    )


async def list_runs(
    pool: asyncpg.Pool,
    workflows: list[str] | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first; ``workflows``: the names a workflow is known by (any of them)."""
    rows = await pool.fetch(
        "SELECT * FROM flowyard_runs WHERE ($1::text[] IS NULL OR workflow = ANY($1::text[]))"
        " AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3",
        workflows,
        status,
        max(1, min(int(limit), 1000)),
    )
    return [run_summary(r) for r in rows]


_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False)
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """Compact JSON; orjson for speed (recording is on every run's hot path), the
    standard library for what orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return _ENCODER.encode(value)


class Redactor:
    """Replaces secret values (as they appear in JSON text) with ``***``."""

    __slots__ = ("secrets",)

    def __init__(self, secrets: set[str]) -> None:
        self.secrets = secrets

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if len(secret) < 4:
                continue  # too short to redact without mangling unrelated text
            escaped = json.dumps(secret)[1:-1]
            if escaped in text:
                text = text.replace(escaped, "***")
        return text


_INSERT_EVENTS = """
    INSERT INTO flowyard_run_events (execution_id, seq, type, block, data, at)
    SELECT $1::uuid, s, t, b, d::jsonb, to_timestamp(a)
    FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::float8[]) AS u(s, t, b, d, a)
"""

_FINISH_UPDATE = """
    UPDATE flowyard_runs SET status = $7, output = $8::text::jsonb, error = $9::text::jsonb,
        started_at = COALESCE(started_at, to_timestamp($10)), finished_at = clock_timestamp()
    WHERE execution_id = $1::uuid
"""
_FINISH_RUN = f"WITH ev AS ({_INSERT_EVENTS.strip()}) {_FINISH_UPDATE}"
#: The same, announcing the end to the web process waiting for it (serve --engine-process).
_FINISH_RUN_NOTIFY = f"""
    WITH ev AS ({_INSERT_EVENTS.strip()}), fin AS ({_FINISH_UPDATE} RETURNING execution_id)
    SELECT pg_notify('flowyard_finished', execution_id::text) FROM fin
"""

_START_RUN = f"""
    WITH ev AS ({_INSERT_EVENTS.strip()})
    UPDATE flowyard_runs SET status = 'running', started_at = COALESCE(started_at, to_timestamp($7))
    WHERE execution_id = $1::uuid AND status IN ('queued', 'running')
"""


class RunRecorder:
    """Buffers one run's events and writes them in one statement per flush."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        execution_id: str,
        secrets: set[str],
        next_seq: int = 1,
        notify_finish: bool = False,
    ) -> None:
        self.pool = pool
        self._finish_sql = _FINISH_RUN_NOTIFY if notify_finish else _FINISH_RUN
        self.execution_id = execution_id
        self.redact = Redactor(secrets)
        self.seq = next_seq
        self._buf: list[tuple[int, str, str | None, str, float]] = []
        # Buffered events a resume would reuse (all but block_started): what a
        # checkpoint before a side effect has to make durable.
        self._reusable = 0
        self._started_at: float | None = None
        self._start_pending = False
        # Flushes are serialized so events commit in seq order (live readers poll by seq).
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def add(self, type_: str, block: str | None = None, data: dict[str, Any] | None = None) -> None:
        text = dumps(data) if data else "{}"
        if self.redact.secrets:
            text = self.redact(text)
        self._buf.append((self.seq, type_, block, text, time.time()))
        self.seq += 1
        self._reusable += 1

    def started_block(self, path: str, attempt: int) -> None:
        """``block_started``: the most frequent event, its text built without an encoder."""
        self._buf.append((self.seq, "block_started", path, f'{{"attempt":{attempt}}}', time.time()))
        self.seq += 1

    @property
    def started_at(self) -> float | None:
        return self._started_at

    def started(self) -> None:
        self._started_at = time.time()
        self._start_pending = True
        self.add("run_started")

    @contextlib.contextmanager
    def _taking(self) -> Iterator[list[Any]]:
        """The buffer as columns; put back in front of newer events if the write fails,
        so a transient database error loses nothing (the next flush retries it)."""
        rows, self._buf = self._buf, []
        reusable, self._reusable = self._reusable, 0
        try:
            yield [[e[i] for e in rows] for i in range(5)]
        except BaseException:
            self._buf = rows + self._buf
            self._reusable += reusable
            raise

    async def flush(self, checkpoint: bool = False) -> None:
        """Write the buffered events. A ``checkpoint`` (before a side effect) only
        writes when something a resume would reuse is waiting: sibling branches
        starting side effects at once then cost one write, not one each."""
        async with self._lock:
            if checkpoint and not self._reusable and not self._start_pending:
                return
            if not self._buf and not self._start_pending:
                return
            with self._taking() as cols:
                if self._start_pending:
                    await self.pool.execute(_START_RUN, self.execution_id, *cols, self._started_at)
                    self._start_pending = False
                else:
                    await self.pool.execute(_INSERT_EVENTS, self.execution_id, *cols)

    async def write_in(self, conn: asyncpg.Connection, type_: str, data: dict[str, Any]) -> None:
        """Append the buffer and one more event on ``conn``, inside the caller's transaction.

        Uses the caller's connection, not the pool: a transaction about to commit
        must never wait for a pool connection that other runs' transactions hold.
        """
        async with self._lock:
            self.add(type_, None, data)
            with self._taking() as cols:
                await conn.execute(_INSERT_EVENTS, self.execution_id, *cols)

    async def finish(self, status: str, output: Any, error: Any) -> None:
        """Write the remaining events and the run's final status in one statement."""
        out_text = self.redact(dumps(output)) if output is not None else None
        err_text = self.redact(dumps(error)) if error is not None else None
        async with self._lock:
            with self._taking() as cols:
                await self.pool.execute(
                    self._finish_sql,
                    self.execution_id,
                    *cols,
                    status,
                    out_text,
                    err_text,
                    self._started_at or time.time(),
                )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def fetch_events(
    pool: asyncpg.Pool, execution_id: str, after: int = 0, limit: int = 10000
) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT seq, type, block, data, at FROM flowyard_run_events"
        " WHERE execution_id = $1::uuid AND seq > $2 ORDER BY seq LIMIT $3",
        execution_id,
        after,
        limit,
    )
    return [
        {
            "seq": r["seq"],
            "type": r["type"],
            "block": r["block"],
            "data": r["data"],
            "at": _iso(r["at"]),
        }
        for r in rows
    ]


async def fetch_run_row(pool: asyncpg.Pool, execution_id: str) -> asyncpg.Record | None:
    try:
        uuid.UUID(str(execution_id))
    except ValueError:
        return None
    return await pool.fetchrow(
        "SELECT * FROM flowyard_runs WHERE execution_id = $1::uuid", execution_id
    )


def run_summary(row: asyncpg.Record) -> dict[str, Any]:
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


def blocks_from_events(
    events: list[dict[str, Any]], top_level_only: bool = True
) -> dict[str, dict[str, Any]]:
    """Fold block events into per-block records (status, attempts, timings, output, error)."""
    blocks: dict[str, dict[str, Any]] = {}
    for ev in events:
        path = ev["block"]
        if path is None or (top_level_only and ("[" in path or "." in path)):
            continue
        rec = blocks.setdefault(
            path,
            {
                "status": "pending",
                "attempts": 0,
                "duration_ms": None,
                "started_at": None,
                "output": None,
                "error": None,
                "inputs": None,
            },
        )
        data = ev["data"] or {}
        kind = ev["type"]
        if kind == "block_started":
            rec["status"] = "running"
            rec["attempts"] = data.get("attempt", rec["attempts"] + 1)
            rec["started_at"] = rec["started_at"] or ev["at"]
        elif kind in ("block_succeeded", "block_failed"):
            rec["status"] = "succeeded" if kind == "block_succeeded" else "failed"
            for key in ("output", "error", "duration_ms", "inputs", "attempts", "port"):
                if key in data:
                    rec[key] = data[key]
            rec["finished_at"] = ev["at"]
        elif kind == "block_skipped":
            rec["status"] = "skipped"
        elif kind == "block_retrying":
            rec["attempts"] = data.get("attempt", rec["attempts"])
    return blocks


async def run_result(pool: asyncpg.Pool, execution_id: str) -> dict[str, Any] | None:
    """The SPEC's run result, read back from the run row and its events."""
    row = await fetch_run_row(pool, execution_id)
    if row is None:
        return None
    events = await fetch_events(pool, execution_id)
    result = run_summary(row)
    result["file"] = await pool.fetchval(
        "SELECT file FROM flowyard_workflow_versions WHERE hash = $1", row["workflow_hash"]
    )
    result["input"] = row["input"]
    result["output"] = row["output"]
    result["blocks"] = blocks_from_events(events)
    return result
