"""`flowyard worker --concurrency N` executes at most N runs at once, the runs it takes
over from a dead process included: before, a resumed run executed beside the jobs it
fetched (two at once under --concurrency 1). Spans are read from the database's
clock, never a threshold on time.

Real embedded PostgreSQL and procrastinate (fixtures in tests/conftest.py); no mocks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from db_helpers import new_database
from test_spec_concurrency import _most_at_once

from engine.model import load_file
from engine.runtime import Runtime
from ui.cli import worker_runtime

NAPPING = """
name: napping_worker
blocks:
  start: {type: manual}
  nap:
    type: database
    query: "SELECT clock_timestamp() AS began, pg_sleep(1.0), clock_timestamp() AS ended"
edges: [start -> nap]
"""


async def test_a_worker_s_concurrency_bounds_the_runs_it_takes_over_too(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.runtime.HEARTBEAT_S", 0.2)  # it looks for orphans often
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")  # no other test's worker
    url = await new_database(database_url, "worker_bound")
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "napping.yaml").write_text(NAPPING)
    wf = load_file(workflows / "napping.yaml")
    server = Runtime(workflows, url, tmp_path, resume=False, queue=True, local=False)
    await server.start()
    pool = server.db.log_pool
    # A run a dead process on another host had begun (its job done with), and one job.
    orphan = (await server.submit(wf, {})).execution_id
    await pool.execute("DELETE FROM procrastinate_jobs WHERE args->>'execution_id' = $1", orphan)
    await pool.execute(
        "UPDATE flowyard_runs SET owner = 'elsewhere:4242:1', status = 'running',"
        " started_at = now(), heartbeat_at = now() - interval '10 minutes'"
        " WHERE execution_id = $1::uuid",
        orphan,
    )
    queued = (await server.submit(wf, {})).execution_id
    worker = worker_runtime(workflows, url, tmp_path, concurrency=1)
    await worker.start()
    stop = asyncio.Event()
    working = asyncio.create_task(worker.work(1, stop))
    try:
        results = [await server.wait(eid, timeout=60) for eid in (orphan, queued)]
    finally:
        stop.set()
        await working
        await worker.close()
        await server.close()
    assert [r["status"] for r in results] == ["succeeded", "succeeded"]
    spans = [(r["output"]["began"], r["output"]["ended"]) for r in results]
    assert _most_at_once(spans) == 1, spans
