"""Deployments sharing a database (different FLOWYARD_QUEUEs) never take each other's
runs: a run executed by another deployment's process uses that deployment's
environment — its Stripe and Slack URLs (engine/deployments.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from db_helpers import new_database
from held_runs import until
from processes import cli

from engine.deployments import lock_key
from engine.handoff import ENGINE_LOCK
from engine.key_order import hold_key_order
from engine.migrations import migrate
from engine.runtime import Runtime

WORKFLOW = "name: payments\nblocks:\n  s: {type: manual}\n  f: {type: function, code: return 7}\nedges: [s -> f]\n"  # noqa: E501

ROOT = Path(__file__).resolve().parent.parent

#: A process of this host that no longer exists (no pid is that high): a dead owner.
DEAD = f"{socket.gethostname()}:999999999:1"


@pytest.fixture
def own_database(database_url: str) -> Iterator[str]:
    """A new database: no other test's unfinished runs for the runtimes to claim."""
    yield asyncio.run(new_database(database_url, "deployments"))


def _runtime(workspace: Path, url: str, monkeypatch, deployment: str, **kw) -> Runtime:
    monkeypatch.setenv("FLOWYARD_QUEUE", deployment)
    return Runtime(workspace / "workflows", url, workspace, function_workers=1, **kw)


def _cli(args: list[str], cwd: Path, url: str, deployment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "FLOWYARD_QUEUE": deployment, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    return cli(args, cwd, env)


async def _orphan(rt: Runtime, workflow, **changes: str) -> str:
    """A run ``rt`` accepted (queued for a worker), then left as if its process died mid-run."""
    eid = (await rt.submit(workflow, {})).execution_id
    await rt.db.log_pool.execute(
        "UPDATE flowyard_runs SET owner = $2, status = 'running' WHERE execution_id = $1::uuid",
        eid,
        changes.get("owner", DEAD),
    )
    return eid


async def test_a_dead_process_runs_are_taken_over_by_its_own_deployment_only(
    workspace: Path, own_database: str, write_workflow, monkeypatch, tmp_path: Path
) -> None:
    """Deployment A's serve killed mid-run: deployment B's worker looking every
    heartbeat, or resuming at its start, leaves A's run alone; A's own takes it."""
    a_server = _runtime(workspace, own_database, monkeypatch, "qa", resume=False,
                        queue=True, local=False)  # fmt: skip
    b = _runtime(workspace, own_database, monkeypatch, "qb", resume=False, queue=True)
    a = _runtime(workspace, own_database, monkeypatch, "qa", resume=False, queue=True)
    await a_server.start()
    await b.start()
    await a.start()
    try:
        wf = write_workflow(WORKFLOW)
        dead = await _orphan(a_server, wf)
        silent = await _orphan(a_server, wf, owner="elsewhere:4242:1")
        await a_server.db.log_pool.execute(
            "UPDATE flowyard_runs SET heartbeat_at = now() - interval '10 minutes'"
            " WHERE execution_id = $1::uuid",
            silent,
        )
        assert await b.resume_unfinished() == []
        assert await b._silent_owners_runs(10.0) == []  # take_over_orphans's look
        assert await b.resume_unfinished(dead) == []  # `runs resume ID` in deployment B
        said = _cli(["runs", "resume", dead], tmp_path, own_database, "qb")
        assert said.returncode == 1, said.stdout + said.stderr
        assert (
            f"{dead} not resumed: it belongs to the deployment FLOWYARD_QUEUE=qa, not to this"
            " one (qb)" in said.stderr
        )
        assert sorted(await a.resume_unfinished()) == sorted([dead, silent])
        for eid in (dead, silent):
            result = await a.wait(eid, 30)
            assert result["status"] == "succeeded" and result["output"] == {"result": 7}
    finally:
        for rt in (a, b, a_server):
            await rt.close()


async def test_stranded_handoffs_stay_with_their_deployment(
    workspace: Path, own_database: str, write_workflow, monkeypatch
) -> None:
    """Runs handed to deployment A's engine process, stranded (A restarted without
    --engine-process): B takes none of them, and B's engine process running does not
    keep A from taking them."""
    web = _runtime(workspace, own_database, monkeypatch, "qa", resume=False, queue=True,
                   local=False)  # fmt: skip
    web.handoff = True  # accepts and hands over, as the web process of --engine-process
    b = _runtime(workspace, own_database, monkeypatch, "qb", resume=False)
    a = _runtime(workspace, own_database, monkeypatch, "qa", resume=False)
    await web.start()
    await b.start()
    await a.start()
    b_engine = await asyncpg.connect(own_database)  # B's engine process, as far as locks say
    try:
        eid = (await web.submit(write_workflow(WORKFLOW), {})).execution_id
        await b_engine.execute(
            "SELECT pg_advisory_lock_shared($1, $2)", *lock_key(ENGINE_LOCK, "qb")
        )
        assert await b.resume_unfinished() == []
        assert await a.resume_unfinished() == [eid]
        assert (await a.wait(eid, 30))["status"] == "succeeded"
    finally:
        await b_engine.close()
        for rt in (a, b, web):
            await rt.close()


async def test_full_serves_of_two_deployments_each_order_their_keys(
    workspace: Path, own_database: str, monkeypatch, caplog
) -> None:
    """The key-order lock is one per deployment: a serve of B beside one of A is no
    clash (each orders its own runs), and each takes its dead processes' keyed runs."""
    a = _runtime(workspace, own_database, monkeypatch, "qa", resume=False)
    b = _runtime(workspace, own_database, monkeypatch, "qb", resume=False)
    await a.start()
    await b.start()
    tasks = [asyncio.create_task(hold_key_order(rt, "flowyard serve", True, 0.2)) for rt in (a, b)]
    try:
        assert await until(lambda: a.orders_keys and b.orders_keys)
        assert "shares this database" not in caplog.text
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for rt in (a, b):
            await rt.close()


async def test_runs_from_before_version_10_get_their_jobs_queue_or_the_default(
    workspace: Path, own_database: str, write_workflow, monkeypatch
) -> None:
    """Upgrading: a run queued for a worker belongs to its job's queue, any other run
    to the default deployment."""
    queued = _runtime(workspace, own_database, monkeypatch, "qx", resume=False, queue=True,
                      local=False)  # fmt: skip
    await queued.start()
    try:
        wf = write_workflow(WORKFLOW)
        job_run = (await queued.submit(wf, {})).execution_id
        pool = queued.db.log_pool
        other = await _orphan(queued, wf)
        await pool.execute("DELETE FROM procrastinate_jobs WHERE args->>'execution_id' = $1", other)
        await pool.execute(
            "ALTER TABLE flowyard_runs DROP COLUMN queue;"
            " DELETE FROM flowyard_schema; INSERT INTO flowyard_schema VALUES (9)"
        )
        await migrate(pool)
        rows = await pool.fetch("SELECT execution_id::text AS eid, queue FROM flowyard_runs")
        assert {r["eid"]: r["queue"] for r in rows} == {job_run: "qx", other: "flowyard"}
    finally:
        await queued.close()


async def test_every_form_of_the_accepting_statement_records_the_deployment(
    own_database: str,
) -> None:
    """Plain, keyed, a tick, a webhook delivery (with and without earlier key forms),
    handed over (NOTIFY), queued for a worker, with carried records: one statement
    each, and each writes the deployment, the key's scope beside it."""
    import datetime as dt

    from engine.database import init_connection
    from engine.intake import accept
    from engine.queue import ensure_schema

    pool = await asyncpg.create_pool(own_database, min_size=1, max_size=2, init=init_connection)
    try:
        await migrate(pool)
        await ensure_schema(pool)

        def same(_stored: dict, _new: dict) -> bool:
            return True

        tick = ("every", dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        forms = {
            "plain": {},
            "keyed": {"idempotency_key": "k1"},
            "tick": {"trigger": "schedule", "idempotency_key": "k2", "tick": tick},
            "delivery": {"trigger": "webhook", "idempotency_key": "k3", "same_request": same,
                         "trigger_block": "hook"},
            "earlier": {"trigger": "webhook", "idempotency_key": "k4", "same_request": same,
                        "trigger_block": "hook", "earlier_keys": ["k4.0"]},
            "notify": {"idempotency_key": "k5", "notify": True},
            "queued": {"trigger": "webhook", "idempotency_key": "k6", "same_request": same,
                       "trigger_block": "hook", "earlier_keys": ["k6.0"], "queue": "dx"},
            "carried": {"carried": [("block_completed", "f", {"output": 7})], "queue": "dx"},
        }  # fmt: skip
        eids = {}
        for name, options in forms.items():
            options = {"trigger": "manual", "idempotency_key": None, **options}
            trigger, key = options.pop("trigger"), options.pop("idempotency_key")
            accepted = await accept(
                pool, "payments", "v1", trigger, {}, key, None, deployment="dx", **options
            )
            assert accepted.created, name
            eids[accepted.execution_id] = name
        rows = await pool.fetch("SELECT execution_id::text, queue, key_scope FROM flowyard_runs")
        assert {eids[r[0]]: r["queue"] for r in rows} == dict.fromkeys(forms, "dx")
        scopes = {eids[r[0]]: r["key_scope"] for r in rows}
        assert scopes["earlier"] == scopes["queued"] == "webhook:hook"
        assert scopes["tick"] == "schedule:every"
    finally:
        await pool.close()
