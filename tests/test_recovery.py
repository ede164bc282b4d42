"""What a resumed run keeps: never the work of a transaction that did not commit."""

from __future__ import annotations

from engine.recovery import restorable
from engine.runtime import Runtime

WORKFLOW = """
name: tx
blocks:
  start: {type: manual}
  pre:
    type: function
    code: "return 1"
  lock: {type: database, transaction: t, query: "SELECT 1 AS x"}
  compute:
    type: function
    code: "return 2"
  save: {type: database, transaction: t, query: "SELECT 2 AS y"}
  after:
    type: function
    code: "return 3"
edges: [start -> pre, pre -> lock, lock -> compute, compute -> save, save -> after]
"""


def ev(type_: str, block: str | None, **data) -> dict:
    return {"type": type_, "block": block, "data": data}


def test_uncommitted_group_members_and_their_descendants_run_again(write_workflow) -> None:
    plan = write_workflow(WORKFLOW).plan
    events = [ev("block_succeeded", b, output={}) for b in ("start", "pre", "lock", "compute")]
    assert sorted(restorable(plan, events)) == ["pre", "start"]


def test_committed_group_is_kept(write_workflow) -> None:
    plan = write_workflow(WORKFLOW).plan
    events = [
        ev("block_succeeded", b, output={}) for b in ("start", "pre", "lock", "compute", "save")
    ]
    events.append(ev("transaction_committed", None, group="t"))
    assert sorted(restorable(plan, events)) == ["compute", "lock", "pre", "save", "start"]


async def test_a_run_waiting_for_the_engine_process_is_only_claimed_by_it(runtime) -> None:
    """A handed-over run that waited long (a backlog, the engine process restarting)
    is not taken over as a silent owner's run: an engine process claims it, in order
    (or, when none runs, a process that executes runs: the test below)."""
    import uuid

    from engine.handoff import HANDOFF
    from engine.recovery import STALE_AFTER_S, claim

    eid = str(uuid.uuid4())
    pool = runtime.db.log_pool
    owner = "SELECT owner FROM flowyard_runs WHERE execution_id = $1::uuid"
    await pool.execute(
        "INSERT INTO flowyard_runs (execution_id, workflow, status, owner, heartbeat_at)"
        " VALUES ($1::uuid, 'waiting', 'queued', $2, now() - make_interval(secs => $3))",
        eid,
        HANDOFF,
        STALE_AFTER_S * 10,
    )
    try:  # claim only this run: other sessions' processes resume what they find
        assert not await claim(pool, "someone:1:1", eid, deployment="flowyard")
        assert await pool.fetchval(owner, eid) == HANDOFF
        # the same row with an ordinary silent owner is taken over
        await pool.execute(
            "UPDATE flowyard_runs SET owner = 'gone:1:1' WHERE execution_id = $1::uuid", eid
        )
        assert [
            str(r["execution_id"])
            for r in await claim(pool, "someone:1:1", eid, deployment="flowyard")
        ] == [eid]
    finally:  # never leave a row for a later resume to find
        await pool.execute(
            "UPDATE flowyard_runs SET status = 'cancelled' WHERE execution_id = $1::uuid", eid
        )


async def test_a_run_left_for_an_engine_process_when_none_runs_is_taken(
    runtime, workspace, database_url, write_workflow, monkeypatch, tmp_path
) -> None:
    """serve --engine-process accepted it, then serve was started without the flag:
    no engine process will ever claim it. A process that executes runs takes it on
    start (or `runs resume`) — but not while an engine process is there to."""
    import asyncpg

    from engine.deployments import lock_key
    from engine.handoff import ENGINE_LOCK

    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")
    web = Runtime(workspace / "workflows", database_url, workspace, function_workers=1,
                  resume=False, queue=True, local=False)  # fmt: skip
    web.handoff = True  # accepts and hands over, as the web process of --engine-process
    await web.start()
    try:
        wf = write_workflow(
            "name: stranded\nblocks:\n  s: {type: manual}\n  f: {type: function, code: return 7}\nedges: [s -> f]\n"
        )
        eid = (await web.submit(wf, {})).execution_id
    finally:
        await web.close()
    # serve started again without the flag, in the same deployment (FLOWYARD_QUEUE)
    serve = Runtime(workspace / "workflows", database_url, workspace, function_workers=1,
                    resume=False)  # fmt: skip
    await serve.start()
    engine = await asyncpg.connect(database_url)  # an engine process, as far as the lock says
    try:
        try:
            key = lock_key(ENGINE_LOCK, serve.deployment)
            await engine.execute("SELECT pg_advisory_lock_shared($1, $2)", *key)
            assert await serve.resume_unfinished(eid) == []  # it is the engine process's
        finally:
            await engine.close()
        assert await serve.resume_unfinished(eid) == [eid]  # nobody else will take it
        result = await serve.wait(eid, 30)
        assert result["status"] == "succeeded" and result["output"] == {"result": 7}
    finally:
        await serve.close()


async def test_resuming_a_run_whose_workflow_version_is_gone_fails_that_run_only(runtime) -> None:
    import socket
    import uuid

    eid = str(uuid.uuid4())
    dead = f"{socket.gethostname()}:999999999:1"  # a pid that does not exist
    await runtime.db.log_pool.execute(
        "INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, owner,"
        " heartbeat_at) VALUES ($1::uuid, 'vanished', 'no-such-version', 'running', $2, now())",
        eid,
        dead,
    )
    assert await runtime.resume_unfinished(eid) == []  # no exception: the others still resume
    result = await runtime.run_result(eid)
    assert result["status"] == "failed" and "not stored" in result["error"]["message"]


async def test_a_start_does_not_lock_the_run_log_once_the_schema_is_current(
    runtime, database_url: str
) -> None:
    """Every process migrates on start; a current schema must not wait for (and then
    block) the run-log writes of the servers already running."""
    import asyncio

    import asyncpg

    from engine.migrations import migrate

    writer = await asyncpg.connect(database_url)
    writing = writer.transaction()
    await writing.start()
    await writer.execute("UPDATE flowyard_runs SET heartbeat_at = heartbeat_at WHERE false")
    try:
        await asyncio.wait_for(migrate(runtime.db.log_pool), 10)
    finally:
        await writing.rollback()
        await writer.close()
