"""A mapping keeps its key order wherever the run executes. The engine process of
`serve --engine-process`, a `flowyard worker` and a resume read the run's input, and
a resume its blocks' outputs, back from the run log: from jsonb, which keeps its
keys sorted by length, so a loop over `<start.prices>` went zzz, a, cc in one
process and a, cc, zzz in another. (tests/ui/test_http_run_wait_elsewhere.py
checks the same with real `serve` processes.)"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from db_helpers import new_database

from engine.handoff import take_handoffs
from engine.migrations import migrate
from engine.model import Workflow
from engine.runtime import Runtime

#: Neither sorted nor in jsonb's order (shorter keys first): any reordering shows.
PRICES = {"zzz": 2, "a": 1, "cc": 3}
BODY = {"step_10": 1, "step_2": 2, "a": 3}

#: `gate` waits for its file: a run can be stopped there and resumed.
ORDERED = """
name: ordered_{suffix}
blocks:
  start: {{type: manual}}
  gate:
    type: function
    code: |
      import os, time
      while not os.path.exists({gate!r}):
          time.sleep(0.02)
      return {{"body": {body!r}}}
  each: {{type: loop, items: <start.prices>, body: [key]}}
  key: {{type: function, isolation: inline, code: "return <item.key>"}}
edges: [start -> gate, gate -> each]
output: {{keys: <each.results>, prices: <start.prices>, body: <gate.body>}}
"""


def _runtime(workspace: Path, database_url: str, **kw: Any) -> Runtime:
    return Runtime(
        workspace / "workflows", database_url, workspace, function_workers=1, resume=False, **kw
    )


def _ordered(result: dict[str, Any]) -> None:
    assert result["status"] == "succeeded", result["error"]
    output = result["output"]
    keys = [each["result"] for each in output["keys"]]
    assert keys == list(PRICES)  # the loop went in the input's order
    assert list(output["prices"]) == list(PRICES)  # start's output kept it
    assert list(output["body"]) == list(BODY)  # and a block's output read back
    assert list(result["blocks"]["start"]["output"]["prices"]) == list(PRICES)


@pytest.fixture
def ordered(write_workflow: Callable[..., Workflow], tmp_path: Path) -> Workflow:
    return write_workflow(
        ORDERED.format(suffix=tmp_path.name[-8:], gate=str(tmp_path / "gate"), body=BODY)
    )


@pytest.mark.parametrize("hand_over", ["queue", "engine process"])
async def test_a_run_executed_by_another_process_iterates_its_input_in_order(
    workspace: Path, database_url: str, ordered: Workflow, tmp_path: Path, monkeypatch, hand_over
) -> None:
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")  # no other session's worker
    (tmp_path / "gate").write_text("open")
    queue = hand_over == "queue"
    server = _runtime(workspace, database_url, queue=True, local=False)
    server.handoff = not queue  # accepts only: a queue job, or a run handed over
    engine = _runtime(workspace, database_url, queue=queue)
    await server.start()
    await engine.start()
    stop = asyncio.Event()
    working = asyncio.create_task(engine.work(2, stop) if queue else _take_until(engine, stop))
    try:
        sub = await server.submit(ordered, {"prices": PRICES})
        result = await server.wait(sub.execution_id, 60)
        _ordered(result)
        # The stored record too, which `GET /api/runs/<id>` answers with.
        stored = await server.run_result(sub.execution_id)
        assert list(stored["input"]["prices"]) == list(PRICES)
        assert list(stored["blocks"]["gate"]["output"]["body"]) == list(BODY)
    finally:
        stop.set()
        await working
        await engine.close()
        await server.close()


async def test_a_resumed_run_iterates_its_input_and_outputs_in_order(
    workspace: Path, database_url: str, ordered: Workflow, tmp_path: Path
) -> None:
    """Stopped at `gate`: the resume restores `start`'s output from its record and
    reads the input again; the loop after it still goes in the input's order."""
    first = _runtime(workspace, database_url)
    await first.start()
    try:
        sub = await first.submit(ordered, {"prices": PRICES})
        events = lambda: first.run_events(sub.execution_id)  # noqa: E731
        while not any(e["block"] == "gate" for e in await events()):
            await asyncio.sleep(0.05)  # start's record is written before gate starts
    finally:
        await first.close()  # a restart, mid-run: the run is left to resume
    second = _runtime(workspace, database_url)
    await second.start()
    try:
        # After a real restart the owner would be a dead process of this host.
        await second.db.log_pool.execute(
            "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = $1::uuid",
            sub.execution_id,
            f"{socket.gethostname()}:1:1",
        )
        (tmp_path / "gate").write_text("open")
        assert await second.resume_unfinished(sub.execution_id) == [sub.execution_id]
        _ordered(await second.wait(sub.execution_id, timeout=60))
        types = [e["type"] for e in await second.run_events(sub.execution_id)]
        assert types.count("run_started") == 2  # it was resumed, not run through
    finally:
        await second.close()


async def test_a_rerun_iterates_the_first_runs_input_in_order(
    runtime: Runtime, ordered: Workflow, tmp_path: Path
) -> None:
    (tmp_path / "gate").write_text("open")
    first = await runtime.execute(ordered, {"prices": PRICES})
    _ordered(first)
    again = await runtime.rerun(first["execution_id"], from_failed=False)
    _ordered(await runtime.wait(again.execution_id, 60))


async def _take_until(engine: Runtime, stop: asyncio.Event) -> None:
    taking = asyncio.create_task(take_handoffs(engine))
    await stop.wait()
    taking.cancel()
    await asyncio.gather(taking, return_exceptions=True)


VERSION_6 = """
    ALTER TABLE flowyard_runs ALTER COLUMN input TYPE jsonb,
        ALTER COLUMN unredacted_input TYPE jsonb, ALTER COLUMN output TYPE jsonb,
        ALTER COLUMN error TYPE jsonb;
    ALTER TABLE flowyard_run_events ALTER COLUMN data TYPE jsonb;
    ALTER TABLE flowyard_workflow_versions ALTER COLUMN source TYPE jsonb;
    DELETE FROM flowyard_schema; INSERT INTO flowyard_schema VALUES (6);
    INSERT INTO flowyard_workflow_versions (hash, name, file, source)
        VALUES ('sorted-keys-hash', 'old', 'old.yaml', '{"name": "old", "blocks": {}}');
    INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, input, output)
        VALUES ('00000000-0000-0000-0000-000000000007', 'old', 'sorted-keys-hash', 'succeeded',
                '{"zzz": 2, "a": 1}', '{"ok": true}');
    INSERT INTO flowyard_run_events (execution_id, seq, type, data)
        VALUES ('00000000-0000-0000-0000-000000000007', 1, 'run_queued', '{"n": 1}');
"""


async def test_a_database_of_schema_version_6_gets_json_values_and_keeps_its_runs(
    database_url: str,
) -> None:
    pool = await asyncpg.create_pool(
        await new_database(database_url, "keyorder"), min_size=1, max_size=2
    )
    try:
        await migrate(pool)
        await pool.execute(VERSION_6)  # as version 6 left it, with a run in it
        await migrate(pool)
        types = await pool.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND data_type IN ('json', 'jsonb')"
            " AND table_name IN ('flowyard_runs', 'flowyard_run_events',"
            " 'flowyard_workflow_versions')"
        )
        assert {r["column_name"]: r["data_type"] for r in types} == dict.fromkeys(
            ("input", "unredacted_input", "output", "error", "data", "source"), "json"
        )
        # The stored version stays under its hash, for the run that names it.
        version = await pool.fetchrow(
            "SELECT v.source::text FROM flowyard_workflow_versions AS v"
            " JOIN flowyard_runs AS r ON r.workflow_hash = v.hash"
        )
        assert json.loads(version["source"]) == {"name": "old", "blocks": {}}
        row = await pool.fetchrow("SELECT input::text, output::text FROM flowyard_runs")
        assert json.loads(row["input"]) == {"a": 1, "zzz": 2}  # in the order jsonb kept
        assert json.loads(row["output"]) == {"ok": True}
        assert await pool.fetchval("SELECT data->>'n' FROM flowyard_run_events") == "1"
        ordered = '{"zzz": 2, "a": 1}'  # a value written now comes back as written
        await pool.execute("UPDATE flowyard_runs SET output = $1::json", ordered)
        assert await pool.fetchval("SELECT output::text FROM flowyard_runs") == ordered
    finally:
        await pool.close()
