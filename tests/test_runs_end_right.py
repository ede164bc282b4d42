"""Runs end right whatever happens around them: cancelled before or while they
run, behind a failed run with the same concurrency key, delivered twice at once,
or cut off while recording their end.

Each test runs the real engine on the embedded PostgreSQL; none mocks the
database. A test here fails when the problem it names comes back.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable

import pytest
from db_helpers import count_rows

from engine.model import Workflow
from engine.runtime import Runtime


async def test_a_run_cancelled_before_it_started_is_recorded_cancelled(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """Cancelled right after it was accepted (its task not yet started) or while
    it waits behind an earlier run with the same concurrency key: the run must end
    `cancelled`, not stay `queued` for the next start to resume and execute; and
    the run after it with that key still waits for the one ahead."""
    pool = runtime.db.pool
    await pool.execute(f"CREATE TABLE {table} (seq serial, id int)")
    wf = write_workflow(
        f"""
        name: audit_cancel_queued
        blocks:
          start: {{type: manual}}
          hold: {{type: database, query: "SELECT pg_sleep(<start.sleep>) AS s"}}
          ins: {{type: database, query: "INSERT INTO {table} (id) VALUES (<start.id>)"}}
        edges: [start -> hold, hold -> ins]
        """
    )
    # Cancelled at once: the task has not run a single step.
    early = await runtime.submit(wf, {"sleep": 0, "id": 1})
    assert await runtime.cancel(early.execution_id)
    # Cancelled while waiting behind a run with the same key.
    key = uuid.uuid4().hex
    ahead = await runtime.submit(wf, {"sleep": 0.8, "id": 2}, concurrency_key=key)
    behind = await runtime.submit(wf, {"sleep": 0, "id": 3}, concurrency_key=key)
    last = await runtime.submit(wf, {"sleep": 0, "id": 4}, concurrency_key=key)
    await asyncio.sleep(0.2)
    assert await runtime.cancel(behind.execution_id)
    for sub in (early, behind):
        result = await runtime.wait(sub.execution_id, timeout=30)
        assert result["status"] == "cancelled"
        stored = await runtime.run_result(sub.execution_id)
        assert stored["status"] == "cancelled"
        assert stored["finished_at"] is not None
    for sub in (ahead, last):
        assert (await runtime.wait(sub.execution_id, timeout=30))["status"] == "succeeded"
    rows = await pool.fetch(f"SELECT id FROM {table} ORDER BY seq")
    assert [r["id"] for r in rows] == [2, 4]


async def test_cancel_mid_group_rolls_back_and_ends_cancelled(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int)")
    wf = write_workflow(
        f"""
        name: audit_cancel_group
        blocks:
          start: {{type: manual}}
          a: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (1)"}}
          hold: {{type: database, transaction: g, query: "SELECT pg_sleep(5) AS s"}}
        edges: [start -> a, a -> hold]
        """
    )
    sub = await runtime.submit(wf, {})
    await asyncio.sleep(0.5)
    assert await runtime.cancel(sub.execution_id)
    result = await runtime.wait(sub.execution_id, timeout=10)
    assert result["status"] == "cancelled"
    assert await count_rows(runtime, table) == 0
    types = [e["type"] for e in await runtime.run_events(sub.execution_id)]
    assert "transaction_committed" not in types and types[-1] == "run_cancelled"


# -- per-key ordering -------------------------------------------------------------------


async def test_runs_behind_a_failed_run_with_the_same_key_still_run_in_order(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    await runtime.db.pool.execute(f"CREATE TABLE {table} (seq serial, id int)")
    wf = write_workflow(
        f"""
        name: audit_key_order
        blocks:
          start: {{type: manual}}
          ins:
            type: database
            query: INSERT INTO {table} (id) SELECT <start.id> FROM pg_sleep(<start.sleep>)
          check:
            type: condition
            if: <start.fail> == False
          boom: {{type: function, code: "raise RuntimeError('no')"}}
        edges: [start -> ins, ins -> check, check.false -> boom]
        """
    )
    key = uuid.uuid4().hex
    subs = [
        await runtime.submit(
            wf, {"id": i, "sleep": 0.3 if i == 0 else 0, "fail": i == 0}, concurrency_key=key
        )
        for i in range(4)
    ]
    results = [await runtime.wait(s.execution_id, timeout=30) for s in subs]
    assert [r["status"] for r in results] == ["failed", "succeeded", "succeeded", "succeeded"]
    rows = await runtime.db.pool.fetch(f"SELECT id FROM {table} ORDER BY seq")
    assert [r["id"] for r in rows] == [0, 1, 2, 3]


# -- idempotent acceptance ----------------------------------------------------------------


async def test_concurrent_deliveries_with_one_key_start_one_run(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int)")
    text = f"""
        name: audit_idem_{{n}}
        blocks:
          start: {{{{type: manual}}}}
          ins: {{{{type: database, query: "INSERT INTO {table} VALUES (1)"}}}}
        edges: [start -> ins]
        """
    wf, other = write_workflow(text.format(n="a")), write_workflow(text.format(n="b"))
    key = f"delivery-{uuid.uuid4().hex}"
    subs = await asyncio.gather(
        *(runtime.submit(wf, {}, trigger="webhook", idempotency_key=key) for _ in range(8))
    )
    assert len({s.execution_id for s in subs}) == 1
    assert sum(s.created for s in subs) == 1
    # The same key on another workflow is another delivery.
    elsewhere = await runtime.submit(other, {}, trigger="webhook", idempotency_key=key)
    assert elsewhere.created and elsewhere.execution_id != subs[0].execution_id
    for eid in {subs[0].execution_id, elsewhere.execution_id}:
        assert (await runtime.wait(eid, timeout=30))["status"] == "succeeded"
    assert await count_rows(runtime, table) == 2


# -- resume after a crash -------------------------------------------------------------------


async def _as_crashed_copy(runtime: Runtime, eid: str, drop: set[str]) -> str:
    """A copy of finished run ``eid`` as a dead process would have left it: still
    `running`, without its final event and without events of the types in ``drop``."""
    pool = runtime.db.log_pool
    copy = str(uuid.uuid4())
    dead = f"{socket.gethostname()}:999999999:1"
    await pool.execute(
        "INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, trigger,"
        " input, owner, heartbeat_at, started_at) SELECT $2::uuid, workflow, workflow_hash,"
        " 'running', trigger, input, $3, now(), started_at FROM flowyard_runs"
        " WHERE execution_id = $1::uuid",
        eid,
        copy,
        dead,
    )
    events = [
        e
        for e in await runtime.run_events(eid)
        if not e["type"].startswith("run_") or e["type"] in ("run_queued", "run_started")
    ]
    events = [e for e in events if e["type"] not in drop]
    for seq, e in enumerate(events, start=1):
        await pool.execute(
            "INSERT INTO flowyard_run_events (execution_id, seq, type, block, data)"
            " VALUES ($1::uuid, $2, $3, $4, $5::jsonb)",
            copy,
            seq,
            e["type"],
            e["block"],
            e["data"],
        )
    return copy


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "not_committed"])
async def test_resume_after_dying_in_finish_repeats_only_uncommitted_work(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str, committed: bool
) -> None:
    """Every block recorded, the process gone before `finish`: the resume repeats a
    group only when its commit is not in the log, and ends the run `succeeded`."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int)")
    wf = write_workflow(
        f"""
        name: audit_resume_finish
        blocks:
          start: {{type: manual}}
          a: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (1)"}}
          b: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (2)"}}
          done: {{type: function, isolation: inline, code: "return {{'ok': True}}"}}
        edges: [start -> a, a -> b, b -> done]
        """
    )
    first = await runtime.execute(wf, {})
    assert first["status"] == "succeeded"
    if not committed:  # stands for a group whose COMMIT never happened
        await runtime.db.pool.execute(f"DELETE FROM {table}")
    copy = await _as_crashed_copy(
        runtime, first["execution_id"], set() if committed else {"transaction_committed"}
    )
    assert await runtime.resume_unfinished(copy) == [copy]
    result = await runtime.wait(copy, timeout=30)
    assert result["status"] == "succeeded" and result["output"] == {"ok": True}
    assert (await runtime.run_result(copy))["status"] == "succeeded"
    assert sorted(r["id"] for r in await runtime.db.pool.fetch(f"SELECT id FROM {table}")) == [
        1,
        2,
    ]
