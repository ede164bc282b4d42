"""Runs waiting for a slot (FLOWYARD_MAX_ACTIVE_RUNS) do not hold their inputs in
memory: each is read back from its row when its turn comes, so a backlog of large
deliveries costs the database, not the server's memory (real embedded PostgreSQL)."""

from __future__ import annotations

import gc
import socket
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from engine.runtime import Runtime

HELD = """
name: held_by_lock
blocks:
  start: {type: manual}
  wait: {type: database, query: "SELECT pg_advisory_xact_lock(424242) IS NULL AS locked"}
  size:
    type: function
    isolation: inline
    code: |
      return {"chars": len(input.start.pad), "tail": input.start.pad[-3:]}
edges: [start -> wait, wait -> size]
output: <size>
"""


@pytest_asyncio.fixture(loop_scope="session")
async def runtime_of_one(workspace: Path, database_url: str) -> AsyncIterator[Runtime]:
    rt = Runtime(workspace / "workflows", database_url, workspace, resume=False, max_active_runs=1)
    await rt.start()
    yield rt
    await rt.close()


async def test_runs_waiting_for_a_slot_do_not_hold_their_inputs(
    runtime_of_one: Runtime, write_workflow
) -> None:
    rt, workflow = runtime_of_one, write_workflow(HELD)
    lock = await rt.db.pool.acquire()
    try:
        await lock.execute("SELECT pg_advisory_lock(424242)")
        first = await rt.submit(workflow, {"pad": "f"})  # takes the one slot, then waits
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            ids = [
                (await rt.submit(workflow, {"pad": "p" * 200_000 + f"{i:03d}"})).execution_id
                for i in range(30)
            ]
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    finally:
        await lock.execute("SELECT pg_advisory_unlock(424242)")
        await rt.db.pool.release(lock)
    # Each waiting run kept its 200 KB input: 6 MB and more.
    assert held < 2_000_000, held
    assert (await rt.wait(first.execution_id, 30))["status"] == "succeeded"
    for i, eid in enumerate(ids):
        done = await rt.wait(eid, 30)
        assert done["status"] == "succeeded", done["error"]
        assert done["output"] == {"chars": 200_003, "tail": f"{i:03d}"}


async def test_runs_resumed_behind_a_slot_do_not_hold_their_inputs(
    workspace: Path, database_url: str, write_workflow, monkeypatch
) -> None:
    """A start resuming a backlog a dead process left (queued deliveries it had
    accepted) claimed every run with its input at once: 2,884 runs of 500 KB took
    2.2 GB with FLOWYARD_MAX_ACTIVE_RUNS=8 before the runs waiting for a slot let go
    of them. A resumed run's input is read from its row when its turn comes."""
    # A deployment of its own: it resumes this test's runs only.
    monkeypatch.setenv("FLOWYARD_QUEUE", f"resume-{uuid.uuid4().hex[:8]}")
    rt = Runtime(workspace / "workflows", database_url, workspace, resume=False, max_active_runs=1)
    await rt.start()
    try:
        await _resumed_behind_a_slot(rt, write_workflow(HELD))
    finally:
        await rt.close()


async def _resumed_behind_a_slot(rt: Runtime, workflow) -> None:
    dead = f"{socket.gethostname()}:999999999:1"  # a process of this host that is gone
    lock = await rt.db.pool.acquire()
    try:
        await lock.execute("SELECT pg_advisory_lock(424242)")
        first = await rt.submit(workflow, {"pad": "f"})  # stores the version; takes the slot
        ids = [str(uuid.uuid4()) for _ in range(30)]
        for i, eid in enumerate(ids):
            await rt.db.log_pool.execute(
                "INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status,"
                " trigger, input, owner, heartbeat_at, queue, created_at) VALUES ($1::uuid,"
                " $2, $3, 'queued', 'manual', $4::json, $5, now(), $6,"
                " now() + make_interval(secs => $7))",
                eid, workflow.name, workflow.content_hash,
                {"pad": "p" * 200_000 + f"{i:03d}"}, dead, rt.deployment, i,
            )  # fmt: skip
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            assert sorted(await rt.resume_unfinished()) == sorted(ids)
            gc.collect()
            held, peak = (m - before for m in tracemalloc.get_traced_memory())
        finally:
            tracemalloc.stop()
    finally:
        await lock.execute("SELECT pg_advisory_unlock(424242)")
        await rt.db.pool.release(lock)
    # The claim read every run's 200 KB input at once (6 MB and more; 1.4 GB for the
    # backlog above) before the runs waiting for a slot let go of them.
    assert peak < 2_000_000 and held < 2_000_000, (peak, held)
    assert (await rt.wait(first.execution_id, 30))["status"] == "succeeded"
    for i, eid in enumerate(ids):
        done = await rt.wait(eid, 30)
        assert done["status"] == "succeeded", done["error"]
        assert done["output"] == {"chars": 200_003, "tail": f"{i:03d}"}
