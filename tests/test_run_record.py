"""One run, one record: the result a caller waits for (`flowyard run --json`, a sync
webhook, `POST …/runs?wait=1`) and the stored run (`GET /api/runs/<id>`, `flowyard
runs show`) agree on its times and on its blocks, finished or not.

Real embedded PostgreSQL (tests/conftest.py), the real CLI; no mocks.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from engine import intake, runstore, workflow_versions
from engine.model import Workflow
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

#: A stored block record, whatever its status: every entry has these keys and no other.
RECORD_KEYS = {
    "status", "attempts", "duration_ms", "started_at", "finished_at", "output", "error",
    "inputs", "port", "reused_from", "rolled_back",
}  # fmt: skip

HELD = """
name: record_held
blocks:
  start: {type: manual}
  hold: {type: database, query: "SELECT 1 AS ok FROM pg_advisory_xact_lock(<start.key>)"}
  route: {type: condition, if: "<start.key> > 0"}
  taken: {type: function, code: "return 1"}
  untaken: {type: function, code: "return 2"}
  each: {type: loop, count: 2, body: [inner]}
  inner: {type: function, code: "return 3"}
edges: [start -> hold, hold -> route, route.true -> taken, route.false -> untaken, taken -> each]
"""
#: Flow order: upstream first, ties by id (the file's order is not what is stored).
TOP = ["start", "hold", "route", "taken", "each", "untaken"]


async def _until(check: Callable[[], Any], what: str, limit_s: float = 30.0) -> None:
    """Wait for a condition (a safety limit, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while not await check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        await asyncio.sleep(0.05)


def _at(events: list[dict[str, Any]], type_: str) -> str:
    return next(e["at"] for e in events if e["type"] == type_)


# -- 1. one start, one end ---------------------------------------------------------------


async def test_the_waited_result_and_the_stored_run_report_the_same_times(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    """`finished_at` (and `started_at`) of the result handed to a waiting caller are
    the stored run's, to the microsecond, and the run log's: the end is the final
    event's time, the start the `run_started` event's (what the run viewer shows)."""
    ok = write_workflow("name: times_ok\nblocks:\n  s: {type: manual}\n")
    boom = write_workflow(
        "name: times_boom\nblocks:\n  s: {type: manual}\n"
        "  b: {type: function, code: \"raise ValueError('no')\"}\nedges: [s -> b]\n"
    )
    for wf, status in ((ok, "succeeded"), (boom, "failed")):
        result = await runtime.execute(wf, {})
        assert result["status"] == status
        stored = await runtime.run_result(result["execution_id"])
        events = await runtime.run_events(result["execution_id"])
        assert result["finished_at"] == stored["finished_at"] == _at(events, f"run_{status}")
        assert result["started_at"] == stored["started_at"] == _at(events, "run_started")


async def test_a_resumed_run_reports_when_it_first_started(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    """A run resumed after its process died keeps its first start: the result its
    waiter gets says so, as the stored run does."""
    wf = write_workflow("name: times_resumed\nblocks:\n  s: {type: manual}\n")
    pool = runtime.db.log_pool
    version = await workflow_versions.save_version(pool, wf, set())
    dead = f"{socket.gethostname()}:1:1"  # a process of this host that is gone
    eid, *_ = await intake.accept(pool, wf.name, version, "manual", {}, None, dead)
    first = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    await pool.execute(
        "UPDATE flowyard_runs SET status = 'running', started_at = $2 WHERE execution_id = $1::uuid",
        eid,
        first,
    )
    await pool.execute(
        "INSERT INTO flowyard_run_events (execution_id, seq, type, data, at)"
        " VALUES ($1::uuid, 2, 'run_started', '{}', $2)",
        eid,
        first,
    )
    assert await runtime.resume_unfinished(eid) == [eid]
    result = await runtime.wait(eid, timeout=30)
    stored = await runtime.run_result(eid)
    assert result["status"] == stored["status"] == "succeeded"
    assert result["started_at"] == stored["started_at"] == first.isoformat()
    assert result["finished_at"] == stored["finished_at"]


# -- 2. every top-level block, started or not --------------------------------------------


async def test_an_unfinished_run_lists_every_top_level_block(
    runtime: Runtime, write_workflow: Callable[..., Workflow], database_url: str
) -> None:
    """While a run is in progress its record lists every top-level block of the
    version it runs: those not started yet are `pending`, with no attempt and the
    keys every entry has (blocks inside a body are not top-level). `flowyard runs
    show` prints them."""
    wf = write_workflow(HELD)
    key = int(uuid.uuid4().int % 2**62) + 1
    lock = await asyncpg.connect(runtime.db.url)
    try:
        await lock.execute("SELECT pg_advisory_lock($1)", key)
        sub = await runtime.submit(wf, {"key": key})
        eid = sub.execution_id

        async def holding() -> bool:
            events = await runtime.run_events(eid)
            return ("block_started", "hold") in [(e["type"], e["block"]) for e in events]

        await _until(holding, "the run reaches `hold`")
        stored = await runtime.run_result(eid)
        assert stored["status"] == "running"
        blocks = stored["blocks"]
        assert list(blocks) == TOP  # flow order, whatever has happened yet
        assert blocks["start"]["status"] == "succeeded"
        assert blocks["hold"]["status"] == "running"
        for bid in ("route", "taken", "untaken", "each"):
            assert blocks[bid] == {
                "status": "pending", "attempts": 0, "duration_ms": None, "started_at": None,
                "finished_at": None, "output": None, "error": None, "inputs": None,
                "port": None, "reused_from": None, "rolled_back": False,
            }  # fmt: skip
        for rec in blocks.values():
            assert set(rec) == RECORD_KEYS

        env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
        show = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "ui.cli", "runs", "show", eid],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert show.returncode == 0, show.stderr
        table = show.stdout.split("\nblock ", 1)[1].splitlines()[1:]  # the rows under the header
        rows = {line.split()[0]: line.split()[1] for line in table if line.strip()}
        assert list(rows) == TOP and rows == {
            "start": "succeeded", "hold": "running", "route": "pending", "taken": "pending",
            "untaken": "pending", "each": "pending",
        }  # fmt: skip
    finally:
        await lock.execute("SELECT pg_advisory_unlock_all()")
        await lock.close()
    result = await runtime.wait(eid, timeout=30)
    assert result["status"] == "succeeded", result["error"]
    stored = await runtime.run_result(eid)
    assert list(stored["blocks"]) == TOP == list(result["blocks"])
    assert {b: r["status"] for b, r in stored["blocks"].items()} == {
        "start": "succeeded", "hold": "succeeded", "route": "succeeded", "taken": "succeeded",
        "untaken": "skipped", "each": "succeeded",
    }  # fmt: skip


async def test_a_block_a_finished_run_never_reached_stays_pending(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    """A run that failed before reaching a block lists it `pending` (it never
    started; `skipped` is for an untaken branch): in the stored run and in the
    result its waiter gets, which list the same blocks in the same order."""
    wf = write_workflow(
        """
        name: record_early_failure
        blocks:
          start: {type: manual}
          boom: {type: function, code: "raise ValueError('no')"}
          after: {type: function, code: "return 1"}
          last: {type: function, code: "return 2"}
        edges: [start -> boom, boom -> after, after -> last]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "failed"
    stored = await runtime.run_result(result["execution_id"])
    assert list(stored["blocks"]) == list(result["blocks"]) == ["start", "boom", "after", "last"]
    for bid in ("after", "last"):
        assert stored["blocks"][bid]["status"] == result["blocks"][bid]["status"] == "pending"
        assert stored["blocks"][bid]["attempts"] == result["blocks"][bid]["attempts"] == 0
        assert set(stored["blocks"][bid]) == set(stored["blocks"]["boom"]) == RECORD_KEYS
        assert set(result["blocks"][bid]) == set(result["blocks"]["boom"])


@pytest.mark.parametrize("notify", [False, True], ids=["in-process", "engine-process"])
async def test_the_end_is_written_fenced_and_with_the_times_it_reports(
    runtime: Runtime, notify: bool
) -> None:
    """`finish` reports the times it wrote — also when it announces the end to a web
    process (serve --engine-process) — and a process that no longer owns the run
    writes nothing and stops (its end is the new owner's)."""
    from engine.handoff import FINISHED
    from engine.recorder import OwnershipLost, RunRecorder

    pool = runtime.db.log_pool
    eid, *_ = await intake.accept(pool, "record_finish", None, "manual", {}, None, "me")
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(runtime.db.url)
    try:
        await listener.add_listener(FINISHED, lambda *args: heard.put_nowait(args[3]))
        stranger = RunRecorder(pool, eid, set(), "not-the-owner", 2, notify)
        stranger.add("run_failed", None, {"error": None})
        with pytest.raises(OwnershipLost):
            await stranger.finish("failed", None, None)
        recorder = RunRecorder(pool, eid, set(), "me", 2, notify)
        recorder.started()
        recorder.add("run_succeeded", None, {"output": {"x": 1}, "error": None})
        end = await recorder.finish("succeeded", {"x": 1}, None)
        stored = await runstore.run_result(pool, eid)
        assert stored["status"] == "succeeded" and stored["output"] == {"x": 1}
        assert end == {key: stored[key] for key in ("status", "started_at", "finished_at")} | {
            "output": {"x": 1},
            "error": None,
        }
        events = await runtime.run_events(eid)
        assert [e["type"] for e in events] == ["run_queued", "run_started", "run_succeeded"]
        if notify:
            assert await asyncio.wait_for(heard.get(), 30) == eid
    finally:
        await listener.close()


def test_a_rollback_marks_the_blocks_it_undid_until_they_run_again() -> None:
    """`transaction_rolled_back` marks the records it names — inside a body too —
    and a block started again (a resume after the rollback) is not marked any more."""

    def ev(seq: int, type_: str, block: str | None, **data: Any) -> dict[str, Any]:
        return {"seq": seq, "type": type_, "block": block, "data": data, "at": f"t{seq}"}

    events = [
        ev(1, "block_started", "ins"),
        ev(2, "block_succeeded", "ins", output={}),
        ev(3, "block_started", "lp[0].add"),
        ev(4, "block_succeeded", "lp[0].add", output={}),
        ev(5, "transaction_rolled_back", None, group="tx", blocks=["ins", "lp[0].add"]),
    ]
    every = runstore.blocks_from_events(events, top_level_only=False)
    assert every["ins"]["rolled_back"] is True and every["lp[0].add"]["rolled_back"] is True
    assert every["ins"]["status"] == "succeeded"
    again = runstore.blocks_from_events([*events, ev(6, "block_started", "ins")])
    assert again["ins"]["rolled_back"] is False


async def test_a_run_of_more_than_ten_thousand_events_is_read_whole(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    """A loop of 5,100 iterations writes over 10,000 run events. Its record, a resume,
    a cancel and a re-run all read the whole log (reading stopped at 10,000: the
    loop showed `running` in a finished run, and a resume re-ran half the loop)."""
    wf = write_workflow(
        """
        name: record_long
        blocks:
          start: {type: manual}
          lp: {type: loop, count: 5100, body: [add], collect: false}
          add: {type: function, isolation: inline, code: "return 1"}
        edges: [start -> lp]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    events = await runtime.run_events(result["execution_id"])
    assert len(events) > 10_200 and events[-1]["type"] == "run_succeeded"
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["lp"]["status"] == "succeeded"
    assert stored["blocks"]["lp"]["output"]["iterations"] == 5100
    page = await runtime.run_events(result["execution_id"], limit=10_000)
    assert len(page) == 10_000  # a client that pages gets pages


# -- 4. the waited result: one shape, wherever the run executed ---------------------------

SHAPES = """
name: record_shape
blocks:
  start: {type: manual}
  route: {type: condition, if: "<start.n> > 0"}
  read: {type: database, transaction: g, query: "SELECT 1 AS one"}
  untaken: {type: function, isolation: inline, code: "return 2"}
  boom: {type: database, transaction: g, query: "SELECT 1 / 0 AS x"}
  never: {type: function, isolation: inline, code: "return 3"}
edges: [start -> route, route.true -> read, route.false -> untaken, read -> boom, boom -> never]
"""
#: The SPEC's run result (SPEC.md, "Run result") and its blocks' keys.
RESULT_KEYS = [
    "execution_id", "workflow", "status", "started_at", "finished_at", "output", "error", "blocks",
]  # fmt: skip
RESULT_BLOCK_KEYS = ["status", "attempts", "duration_ms", "output", "error"]


async def test_a_run_waited_for_elsewhere_has_the_result_of_one_waited_for_here(
    runtime: Runtime, write_workflow: Callable[..., Workflow], database_url: str, tmp_path: Path
) -> None:
    """`wait` on a run this process does not hold (serve --engine-process, a worker:
    another process ran it) read its stored record back and handed that over: its
    `trigger`, `file` (the server's path), `input`, and per block `inputs`, `port`,
    `started_at`… The SPEC's run result instead, the same as the process that ran it
    hands over: the same blocks, in the same order, with the same keys."""
    here = await runtime.execute(write_workflow(SHAPES), {"n": 1})
    other = Runtime(tmp_path, database_url, tmp_path, function_workers=1, resume=False)
    await other.start()
    try:
        there = await other.wait(here["execution_id"], timeout=30)
    finally:
        await other.close()
    for result in (here, there):
        assert list(result) == RESULT_KEYS
        assert list(result["blocks"]) == ["start", "route", "read", "boom", "never", "untaken"]
        assert {bid: list(rec) for bid, rec in result["blocks"].items()} == {
            bid: [*RESULT_BLOCK_KEYS, *(["rolled_back"] if bid in ("read", "boom") else [])]
            for bid in result["blocks"]
        }
    assert [b["status"] for b in there["blocks"].values()] == [
        "succeeded", "succeeded", "succeeded", "failed", "pending", "skipped",
    ]  # fmt: skip
    assert there["blocks"]["read"]["rolled_back"] is True  # the group was undone
    assert there == here


async def test_a_block_that_read_nothing_records_null_inputs_whether_it_failed_or_not(
    run_yaml: Callable[..., Any], runtime: Runtime
) -> None:
    # docs/engine.md: a record's `inputs` are null when the block read nothing. A
    # failed block's were `{}` (its config, resolved: nothing), so the run viewer
    # showed an empty "Input {}" beside a failed Function and none beside the rest.
    result = await run_yaml(
        """
        name: read_nothing
        blocks:
          start: {type: manual}
          fine: {type: function, code: 'return 1'}
          broken: {type: function, on_error: continue, code: 'raise ValueError("no")'}
          reads: {type: function, on_error: continue, code: 'raise ValueError(<start.n>)'}
        edges: [start -> fine, start -> broken, start -> reads]
        """,
        {"n": 7},
    )
    stored = (await runtime.run_result(result["execution_id"]))["blocks"]
    assert stored["broken"]["status"] == "failed" and stored["fine"]["status"] == "succeeded"
    assert stored["broken"]["inputs"] is None and stored["fine"]["inputs"] is None
    assert stored["reads"]["inputs"] == {"<start.n>": 7}
