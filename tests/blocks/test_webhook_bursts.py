"""Identical deliveries at once, racing a run of theirs that fails: each is judged by
what its key's run was when it arrived, so copies sent together start one run — a
run that failed is retried only by a delivery that arrived after it had failed —
and none is a 500.

``accept`` (blocks/webhook.py, what the route calls) and ``intake.accept`` run on a
real runtime and real PostgreSQL; the race is made certain with a real row lock.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import pytest
from held_runs import until

from blocks._delivery_keys import same_delivery
from blocks.webhook import accept
from engine import intake
from engine.database import init_connection

FAILS_AT_ONCE = """
version: 1
name: NAME
blocks:
  hook: {{type: webhook, path: test/NAME, respond: {respond}}}
  fail:
    type: function
    isolation: inline
    code: |
      raise RuntimeError("the customer system is down")
edges: [hook -> fail]
"""

BODY = json.dumps({"order_id": "o-1", "event_type": "paid"}).encode()


async def _runs(runtime: Any, workflow: str) -> list[dict[str, Any]]:
    rows = await runtime.db.pool.fetch(
        "SELECT execution_id::text AS id, status, idempotency_key AS key FROM flowyard_runs"
        " WHERE workflow = $1 ORDER BY created_at",
        workflow,
    )
    return [dict(r) for r in rows]


@pytest.mark.parametrize("respond", ["async", "sync"])
async def test_a_burst_of_one_delivery_racing_its_failing_run_is_never_a_500(
    blocks_runtime: Any, install_workflow: Any, respond: str
) -> None:
    wf = install_workflow(FAILS_AT_ONCE.format(respond=respond))
    headers = {"Content-Type": "application/json", "Idempotency-Key": "ff-3"}

    async def deliver() -> Any:
        return await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, BODY)

    answers = await asyncio.gather(*(deliver() for _ in range(20)))
    ok = 202 if respond == "async" else 500  # sync: the run's failure, with its id
    assert [a.status for a in answers] == [ok] * 20, [a.body for a in answers]
    for run in await _runs(blocks_runtime, wf.name):
        await blocks_runtime.wait(run["id"], timeout=30)
    runs = await _runs(blocks_runtime, wf.name)
    answered = {a.body["execution_id"] for a in answers}
    assert answered <= {r["id"] for r in runs}
    # At most one new run per failed run: the key moved along one chain of retries,
    # each started by a delivery that arrived after its predecessor had failed.
    assert [r["key"] for r in runs] == [None] * (len(runs) - 1) + ["ff-3"]
    assert all(r["status"] == "failed" for r in runs)
    if respond == "async":
        retried = [a.body["retry_of"] for a in answers if "retry_of" in a.body]
        assert sorted(retried) == sorted(r["id"] for r in runs[:-1])


# -- the race made certain: deliveries held on the key's row lock -------------------------

INPUT = {"webhook": {"body": {"order_id": "o-1"}, "query": {}}}
_LOCK_WAITERS = """
    SELECT count(*) FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock'
       AND query LIKE '%idempotency_key%FOR UPDATE%'
"""


@pytest.fixture
async def pool(database_url: str) -> Any:
    """Connections enough for every delivery to wait on a row lock at once."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=12, init=init_connection)
    yield pool
    await pool.close()


async def _deliver(pool: asyncpg.Pool, workflow: str) -> intake.Accepted:
    return await intake.accept(
        pool, workflow, None, "webhook", INPUT, "k-1", "test-held", same_request=same_delivery
    )


async def _waiting_on_a_row_lock(pool: asyncpg.Pool, n: int) -> None:
    async def enough() -> bool:
        return int(await pool.fetchval(_LOCK_WAITERS)) >= n

    assert await until(enough), f"{n} deliveries never waited on the run's row lock"


async def test_copies_that_arrived_while_their_run_ran_repeat_it_though_it_failed_first(
    pool: asyncpg.Pool,
) -> None:
    workflow = f"burst_{uuid.uuid4().hex[:10]}"
    first = await _deliver(pool, workflow)
    assert first.created
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        # The run is busy (its row locked): copies arrive, see it queued, and wait.
        lock = "SELECT 1 FROM flowyard_runs WHERE execution_id = $1::uuid FOR UPDATE"
        await conn.execute(lock, first.execution_id)
        copies = [asyncio.create_task(_deliver(pool, workflow)) for _ in range(5)]
        await _waiting_on_a_row_lock(pool, 5)
        # ...and it fails before they are judged.
        await conn.execute(
            "UPDATE flowyard_runs SET status = 'failed', finished_at = now()"
            " WHERE execution_id = $1::uuid",
            first.execution_id,
        )
        await tx.commit()
    answers = await asyncio.gather(*copies)
    assert answers == [(first.execution_id, False, None, False)] * 5  # repeats, nothing new
    # A delivery that arrives now, after the failure, is the sender's retry.
    retry = await _deliver(pool, workflow)
    assert retry.created and retry.retry_of == first.execution_id
    count = "SELECT count(*) FROM flowyard_runs WHERE workflow = $1"
    assert await pool.fetchval(count, workflow) == 2


async def test_retries_arriving_together_start_one_run_though_it_fails_at_once(
    pool: asyncpg.Pool,
) -> None:
    workflow = f"burst_{uuid.uuid4().hex[:10]}"
    failed = await _deliver(pool, workflow)
    await pool.execute(
        "UPDATE flowyard_runs SET status = 'failed' WHERE execution_id = $1::uuid",
        failed.execution_id,
    )
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        # One retry has the failed run's row and is moving the key to its new run...
        await conn.execute(
            "SELECT 1 FROM flowyard_runs WHERE execution_id = $1::uuid FOR UPDATE",
            failed.execution_id,
        )
        others = [asyncio.create_task(_deliver(pool, workflow)) for _ in range(5)]
        await _waiting_on_a_row_lock(pool, 5)
        await conn.execute(
            "UPDATE flowyard_runs SET idempotency_key = NULL WHERE execution_id = $1::uuid",
            failed.execution_id,
        )
        new_run = str(uuid.uuid4())
        # ...which fails at once, before the other retries look at it.
        await conn.execute(
            "INSERT INTO flowyard_runs (execution_id, workflow, status, trigger, input,"
            " idempotency_key, key_scope)"
            " VALUES ($1::uuid, $2, 'failed', 'webhook', $3::jsonb, 'k-1', 'webhook:')",
            new_run,
            workflow,
            INPUT,
        )
        await tx.commit()
    answers = await asyncio.gather(*others)
    # They arrived when the first run had failed, not its retry: they answer with
    # the retry they raced (a failed run), and start no third run.
    assert answers == [(new_run, False, None, False)] * 5
    count = "SELECT count(*) FROM flowyard_runs WHERE workflow = $1"
    assert await pool.fetchval(count, workflow) == 2
