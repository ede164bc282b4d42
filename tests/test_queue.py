"""Queue mode (procrastinate on the same PostgreSQL), per-key ordering, retention."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from engine.retention import parse_duration, prune
from engine.runtime import Runtime

ORDERED = """
name: ordered_{suffix}
blocks:
  start: {{type: manual}}
  note:
    type: function
    isolation: inline
    code: |
      import time
      time.sleep(0.02 if <start.n> % 2 else 0.0)  # uneven work: order must come from the lock
      with open({log!r}, "a") as f:
          f.write(f"{{<start.key>}}:{{<start.n>}}\\n")
      return {{"n": <start.n>}}
edges: [start -> note]
"""


def _per_key(log: Path) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for line in log.read_text().split():
        key, n = line.split(":")
        seen.setdefault(key, []).append(int(n))
    return seen


async def test_local_runs_with_a_key_execute_in_arrival_order(
    runtime: Runtime, write_workflow, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    wf = write_workflow(ORDERED.format(suffix="local", log=str(log)))
    subs = [
        await runtime.submit(wf, {"key": k, "n": n}, concurrency_key=k)
        for n in range(12)
        for k in ("a", "b")
    ]
    results = await asyncio.gather(*(runtime.wait(s.execution_id) for s in subs))
    assert all(r["status"] == "succeeded" for r in results)
    assert _per_key(log) == {"a": list(range(12)), "b": list(range(12))}


async def test_queued_runs_are_executed_by_a_worker_in_key_order(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")  # no other session's worker
    log = tmp_path / "log"
    wf = write_workflow(ORDERED.format(suffix="queued", log=str(log)))
    server = Runtime(
        workspace / "workflows",
        database_url,
        workspace,
        function_workers=1,
        resume=False,
        queue=True,
        local=False,
    )
    worker = Runtime(
        workspace / "workflows",
        database_url,
        workspace,
        function_workers=1,
        resume=False,
        queue=True,
    )
    await server.start()
    await worker.start()
    stop = asyncio.Event()
    working = asyncio.create_task(worker.work(8, stop))
    try:
        subs = [
            await server.submit(wf, {"key": k, "n": n}, concurrency_key=k)
            for n in range(10)
            for k in ("x", "y")
        ]
        assert all(s.created for s in subs)
        results = await asyncio.gather(*(server.wait(s.execution_id, timeout=60) for s in subs))
        assert [r["status"] for r in results] == ["succeeded"] * 20
        assert _per_key(log) == {"x": list(range(10)), "y": list(range(10))}
        owners = {
            r["owner"]
            for r in await server.db.log_pool.fetch(
                "SELECT owner FROM flowyard_runs WHERE execution_id = ANY($1::uuid[])",
                [s.execution_id for s in subs],
            )
        }
        assert owners == {worker.owner}  # the worker ran them, not the accepting process
    finally:
        stop.set()
        await working
        await worker.close()
        await server.close()


RERUN = """
name: rerun_queued
blocks:
  start: {{type: manual}}
  once:
    type: database
    transaction: effects
    query: INSERT INTO rerun_effects (token) VALUES ('<start.token>') RETURNING token
  gated:
    type: function
    isolation: inline
    code: |
      import os
      if not os.path.exists({gate!r}):
          raise RuntimeError("gate closed")
      return {{"got": <once.row.token>}}
edges: [start -> once, once -> gated]
"""


@asynccontextmanager
async def _accepted_here_executed_there(
    workspace: Path, database_url: str, tmp_path: Path, monkeypatch, hand_over: str
) -> AsyncIterator[Runtime]:
    """A runtime that only accepts runs (yielded), and another that executes them:
    a queue worker, or the engine process of serve --engine-process."""
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")
    args = (workspace / "workflows", database_url, workspace)
    queue = hand_over == "queue"
    server = Runtime(*args, function_workers=1, resume=False, queue=True, local=False)
    server.handoff = not queue  # accepts only: a queue job, or a run handed over
    worker = Runtime(*args, function_workers=1, resume=False, queue=queue)
    await server.start()
    await worker.start()
    stop = asyncio.Event()
    working = asyncio.create_task(worker.work(4, stop) if queue else _take_until(worker, stop))
    try:
        yield server
    finally:
        stop.set()
        await working
        await worker.close()
        await server.close()


@pytest.mark.parametrize("hand_over", ["queue", "engine process"])
async def test_a_queued_rerun_reuses_what_succeeded_even_in_another_process(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch, hand_over
) -> None:
    """The carried-over blocks are written with the run, so the worker (or the engine
    process of serve --engine-process) that executes it, not the process that
    accepted it, does not repeat the committed insert."""
    gate = tmp_path / "gate"
    wf = write_workflow(RERUN.format(gate=str(gate)))
    async with _accepted_here_executed_there(
        workspace, database_url, tmp_path, monkeypatch, hand_over
    ) as server:
        await server.db.pool.execute("CREATE TABLE IF NOT EXISTS rerun_effects (token text)")
        token = uuid.uuid4().hex  # the table outlives test sessions
        first = await server.wait((await server.submit(wf, {"token": token})).execution_id, 60)
        assert first["status"] == "failed" and first["error"]["block"] == "gated"
        gate.write_text("open")
        again = await server.wait((await server.rerun(first["execution_id"])).execution_id, 60)
        assert again["status"] == "succeeded" and again["output"] == {"got": token}
        inserted = "SELECT count(*) FROM rerun_effects WHERE token = $1"
        assert await server.db.pool.fetchval(inserted, token) == 1  # not inserted again
        events = await server.run_events(again["execution_id"])
        [once] = [e for e in events if e["block"] == "once"]
        assert once["data"]["reused_from"] == first["execution_id"]


LINEAGE = """
name: rerun_lineage_elsewhere
blocks:
  start: {type: manual}
  who: {type: function, isolation: inline, code: "return {'of': <workflow.rerun_of>}"}
edges: [start -> who]
output: <who>
"""


@pytest.mark.parametrize("hand_over", ["queue", "engine process"])
async def test_a_rerun_executed_in_another_process_knows_the_run_it_repeats(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch, hand_over
) -> None:
    """<workflow.rerun_of> is kept with the run (flowyard_runs.rerun_of), so whoever
    executes a re-run of every block tells it too, not only the accepting process."""
    wf = write_workflow(LINEAGE)
    async with _accepted_here_executed_there(
        workspace, database_url, tmp_path, monkeypatch, hand_over
    ) as server:
        first = await server.wait((await server.submit(wf, {})).execution_id, 60)
        assert first["output"] == {"of": None}
        sub = await server.rerun(first["execution_id"], from_failed=False)
        again = await server.wait(sub.execution_id, 60)
        assert again["status"] == "succeeded", again["error"]
        assert again["output"] == {"of": first["execution_id"]}


TWO_TRIGGERS = """
name: two_triggers_{suffix}
blocks:
  nightly: {{type: schedule, cron: "0 2 * * *"}}
  start: {{type: manual}}
  by_tick: {{type: function, isolation: inline, code: "return {{'branch': 'tick'}}"}}
  by_hand: {{type: function, isolation: inline, code: "return {{'branch': 'hand'}}"}}
edges: [nightly -> by_tick, start -> by_hand]
"""


@pytest.mark.parametrize("hand_over", ["queue", "engine process"])
async def test_a_run_executed_in_another_process_starts_from_its_own_trigger(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch, hand_over
) -> None:
    """The trigger block a run starts from is kept with it (flowyard_runs.trigger_block):
    whoever executes it skips the workflow's other triggers too, not only the
    accepting process."""
    wf = write_workflow(TWO_TRIGGERS.format(suffix=uuid.uuid4().hex[:10]))
    tick = dt.datetime(2030, 1, 1, 2, 0, tzinfo=dt.UTC)
    async with _accepted_here_executed_there(
        workspace, database_url, tmp_path, monkeypatch, hand_over
    ) as server:
        by_hand = await server.wait((await server.submit(wf, {})).execution_id, 60)
        ticked = await server.wait(
            (await server.submit(wf, {}, trigger="schedule", tick=("nightly", tick))).execution_id,
            60,
        )
    assert by_hand["output"] == {"branch": "hand"}, by_hand
    assert by_hand["blocks"]["nightly"]["status"] == "skipped"
    assert ticked["output"] == {"branch": "tick"}, ticked
    assert ticked["blocks"]["start"]["status"] == "skipped"


def test_parse_duration() -> None:
    assert parse_duration("7d") == 7 * 86400
    assert parse_duration("12h") == 43200
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


async def test_prune_deletes_old_runs_only(runtime: Runtime, run_yaml) -> None:
    old = await run_yaml("name: prune_me\nblocks:\n  s: {type: manual}\n")
    fresh = await run_yaml("name: keep_me\nblocks:\n  s: {type: manual}\n")
    pool = runtime.db.log_pool
    await pool.execute(
        "UPDATE flowyard_runs SET finished_at = now() - interval '40 days',"
        " created_at = now() - interval '41 days' WHERE execution_id = $1::uuid",
        old["execution_id"],
    )
    runs, events = await prune(pool, parse_duration("30d"))
    assert runs >= 1 and events >= 3
    assert await runtime.run_result(old["execution_id"]) is None
    assert (await runtime.run_result(fresh["execution_id"]))["status"] == "succeeded"


async def _take_until(engine: Runtime, stop: asyncio.Event) -> None:
    from engine.handoff import take_handoffs

    taking = asyncio.create_task(take_handoffs(engine))
    await stop.wait()
    taking.cancel()
    await asyncio.gather(taking, return_exceptions=True)


@pytest.mark.parametrize("hand_over", ["queue", "engine process"])
async def test_a_queued_rerun_that_carries_nothing_sends_the_first_runs_key(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch, hand_over
) -> None:
    """Executed in another process, a re-run from the failed block with no record to
    carry over (its first block failed) still sends the key of the run it repeats."""
    keys: list[str] = []

    def peer(request: Request) -> Response:
        keys.append(request.headers["Idempotency-Key"])
        return Response("{}", status=500 if len(keys) == 1 else 200)

    with HTTPServer() as peer_server:
        peer_server.expect_request("/capture").respond_with_handler(peer)
        url = peer_server.url_for("/capture")
        wf = write_workflow(
            f"""
            name: rerun_key_elsewhere
            blocks:
              capture: {{type: http, method: POST, url: "{url}"}}
            """
        )
        async with _accepted_here_executed_there(
            workspace, database_url, tmp_path, monkeypatch, hand_over
        ) as server:
            first = await server.wait((await server.submit(wf, {})).execution_id, 60)
            assert first["status"] == "failed" and first["error"]["block"] == "capture"
            rerun = await server.rerun(first["execution_id"])
            again = await server.wait(rerun.execution_id, 60)
            assert again["status"] == "succeeded", again["error"]
    assert keys == [f"{first['execution_id']}:capture"] * 2
