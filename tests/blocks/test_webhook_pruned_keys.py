"""A delivery's idempotency key outlives its run: once retention had pruned the run,
a resend with the same key was accepted as new (`202` and a second run) — the
SPEC's "a repeat delivery returns the first run and starts nothing" held only
until the run was 30 days old. Now the pruned run's key is kept (hashed), and a
resend is answered with the pruned run, ``"pruned": true``.

``accept`` is what the Flask route calls, on a real runtime (real PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg

from blocks.webhook import accept
from engine.retention import forget_runs, prune

HOOK = """
version: 1
name: NAME
blocks:
  hook: {type: webhook, path: test/NAME, respond: RESPOND}
  work:
    type: function
    code: |
      if input.hook.body.get("fail"):
          raise RuntimeError("the customer system is down")
      return {"order": input.hook.body.order_id}
edges: [hook -> work]
"""
DAY_S = 86400.0


def _hook(install_workflow: Any, respond: str = "async") -> Any:
    return install_workflow(HOOK.replace("RESPOND", respond))


async def _deliver(rt: Any, wf: Any, key: str, body: dict[str, Any]) -> Any:
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    return await accept(rt, f"test/{wf.name}", "POST", headers, {}, json.dumps(body).encode())


async def _age_and_prune(rt: Any, execution_id: str) -> None:
    """Make the run 31 days old, then prune as the default 30 d does."""
    await rt.db.log_pool.execute(
        "UPDATE flowyard_runs SET finished_at = finished_at - interval '31 days',"
        " created_at = created_at - interval '31 days' WHERE execution_id = $1::uuid",
        execution_id,
    )
    await prune(rt.db.log_pool, 30 * DAY_S)
    assert await rt.run_result(execution_id) is None  # the run is gone


async def _run_ids(rt: Any, workflow: str) -> list[str]:
    rows = await rt.db.log_pool.fetch(
        "SELECT execution_id::text FROM flowyard_runs WHERE workflow = $1", workflow
    )
    return [r[0] for r in rows]


async def test_a_resend_after_its_run_was_pruned_starts_nothing(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = _hook(install_workflow)
    first = await _deliver(blocks_runtime, wf, "ret1", {"order_id": "o-1"})
    eid = first.body["execution_id"]
    assert (await blocks_runtime.wait(eid, timeout=30))["status"] == "succeeded"
    assert (await _deliver(blocks_runtime, wf, "ret1", {"order_id": "o-1"})).body["duplicate"]

    await _age_and_prune(blocks_runtime, eid)
    again = await _deliver(blocks_runtime, wf, "ret1", {"order_id": "o-1"})
    assert (again.status, again.body) == (
        202,
        {"execution_id": eid, "status_url": f"/api/runs/{eid}", "duplicate": True, "pruned": True},
    )
    # Its body is gone with the run, so it cannot be compared: any body under the
    # key is a repeat (docs/blocks/webhook.md), never a second run.
    other = await _deliver(blocks_runtime, wf, "ret1", {"order_id": "o-2"})
    assert (other.status, other.body["execution_id"], other.body["pruned"]) == (202, eid, True)
    assert await _run_ids(blocks_runtime, wf.name) == []

    # The key is kept as its hash, not as the text the sender sent.
    kept = await blocks_runtime.db.log_pool.fetchrow(
        "SELECT key_scope, key_hash FROM flowyard_pruned_keys WHERE execution_id = $1::uuid", eid
    )
    assert kept["key_scope"] == "webhook:hook" and "ret1" not in kept["key_hash"]

    # Another key is another delivery.
    new = await _deliver(blocks_runtime, wf, "ret2", {"order_id": "o-1"})
    assert new.status == 202 and "duplicate" not in new.body
    assert await _run_ids(blocks_runtime, wf.name) == [new.body["execution_id"]]


async def test_a_sync_resend_of_a_pruned_run_is_answered_at_once(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    """Its output went with the run: a `202` naming it, not a wait for a run that is
    not there."""
    wf = _hook(install_workflow, "sync")
    first = await _deliver(blocks_runtime, wf, "s-1", {"order_id": "o-3"})
    assert (first.status, first.body) == (200, {"order": "o-3"})
    (eid,) = await _run_ids(blocks_runtime, wf.name)
    await _age_and_prune(blocks_runtime, eid)
    again = await _deliver(blocks_runtime, wf, "s-1", {"order_id": "o-3"})
    assert (again.status, again.body["execution_id"]) == (202, eid)
    assert again.body["duplicate"] is True and again.body["pruned"] is True
    assert await _run_ids(blocks_runtime, wf.name) == []


async def test_a_retry_of_a_pruned_failed_run_still_runs(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    """A failed delivery's resend is a retry (docs/blocks/webhook.md), pruned or not:
    its event must not be lost. A schedule's or a run by hand's key is answered with
    its run whatever became of it, also once pruned."""
    wf = _hook(install_workflow)
    failed = await _deliver(blocks_runtime, wf, "f-1", {"order_id": "o-4", "fail": True})
    eid = failed.body["execution_id"]
    assert (await blocks_runtime.wait(eid, timeout=30))["status"] == "failed"
    await _age_and_prune(blocks_runtime, eid)
    retry = await _deliver(blocks_runtime, wf, "f-1", {"order_id": "o-4"})
    assert retry.status == 202 and "duplicate" not in retry.body
    assert retry.body["execution_id"] != eid
    assert (await blocks_runtime.wait(retry.body["execution_id"], timeout=30))["output"] == {
        "order": "o-4"
    }

    manual = await blocks_runtime.submit(wf, {}, idempotency_key="by-hand-1")
    assert (await blocks_runtime.wait(manual.execution_id, timeout=30))["status"] == "failed"
    await _age_and_prune(blocks_runtime, manual.execution_id)
    again = await blocks_runtime.submit(wf, {}, idempotency_key="by-hand-1")
    assert (again.execution_id, again.created, again.pruned) == (manual.execution_id, False, True)


async def _blocked_by(pg: asyncpg.Connection, pid: int) -> bool:
    return bool(
        await pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", pid
        )
    )


async def test_a_resend_while_its_run_is_being_pruned_starts_nothing(
    blocks_runtime: Any, install_workflow: Any, database_url: str, pg: asyncpg.Connection
) -> None:
    """The resend's statement starts before the prune commits: it sees the run, waits
    for the prune's delete of it, and then found the key free."""
    wf = _hook(install_workflow)
    first = await _deliver(blocks_runtime, wf, "r-1", {"order_id": "o-5"})
    eid = first.body["execution_id"]
    await blocks_runtime.wait(eid, timeout=30)
    pruner = await asyncpg.connect(database_url)
    try:
        pruning = pruner.transaction()
        await pruning.start()
        await pruner.execute("SET LOCAL flowyard.pruning = 'on'")
        await forget_runs(pruner, [uuid.UUID(eid)])
        resend = asyncio.create_task(_deliver(blocks_runtime, wf, "r-1", {"order_id": "o-5"}))
        while not resend.done() and not await _blocked_by(pg, pruner.get_server_pid()):
            await asyncio.sleep(0.01)
        await pruning.commit()
        again = await resend
    finally:
        await pruner.close()
    assert (again.status, again.body["execution_id"], again.body["pruned"]) == (202, eid, True)
    assert await _run_ids(blocks_runtime, wf.name) == []


KEYED = """
version: 1
name: NAME
blocks:
  hook: {type: webhook, path: test/NAME, idempotency_key: <hook.body.k>}
  done: {type: function, code: "return {'ok': 1}"}
edges: [hook -> done]
"""


async def test_a_run_without_a_scope_is_found_once_pruned_in_its_earlier_key_form(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    """A run accepted before keys had a scope may hold its key in a form an earlier
    release stored (``7.0`` for the number 7.0, now ``7``: blocks/_earlier_keys.py).
    Pruned, it is kept in that form under its trigger; a resend is still a repeat
    of it, as while the run was there — and the key as sent now is found too."""
    wf = install_workflow(KEYED)
    runs = {}
    for body, form in (({"k": 7.0}, "7.0"), ({"k": "ord-9"}, "ord-9")):
        first = await _deliver_to(blocks_runtime, wf, body)
        eid = runs[form] = first.body["execution_id"]
        assert (await blocks_runtime.wait(eid, timeout=30))["status"] == "succeeded"
        await blocks_runtime.db.log_pool.execute(  # as an earlier release left it
            "UPDATE flowyard_runs SET idempotency_key = $2, trigger_block = NULL,"
            " key_scope = NULL WHERE execution_id = $1::uuid",
            eid,
            form,
        )
        assert (await _deliver_to(blocks_runtime, wf, body)).body["execution_id"] == eid
        await _age_and_prune(blocks_runtime, eid)
        kept = await blocks_runtime.db.log_pool.fetchval(
            "SELECT key_scope FROM flowyard_pruned_keys WHERE execution_id = $1::uuid", eid
        )
        assert kept == "webhook"
        again = await _deliver_to(blocks_runtime, wf, body)
        assert (again.status, again.body["execution_id"]) == (202, eid), (form, again.body)
        assert again.body["duplicate"] is True and again.body["pruned"] is True
    assert await _run_ids(blocks_runtime, wf.name) == []

    # Another value is another delivery; its key has an earlier form too.
    other = await _deliver_to(blocks_runtime, wf, {"k": 8.0})
    assert other.status == 202 and "duplicate" not in other.body
    assert other.body["execution_id"] not in runs.values()
    await blocks_runtime.wait(other.body["execution_id"], timeout=30)


async def _deliver_to(rt: Any, wf: Any, body: dict[str, Any]) -> Any:
    headers = {"Content-Type": "application/json"}
    return await accept(rt, f"test/{wf.name}", "POST", headers, {}, json.dumps(body).encode())
