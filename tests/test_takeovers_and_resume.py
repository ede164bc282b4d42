"""Queue jobs, crash recovery and takeovers under races."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

from held_runs import HELD, HOLD, until
from standins.recording import RecordingServer

from engine.runtime import Runtime

SIMPLE = "name: audit_{suffix}\nblocks:\n  s: {{type: manual}}\n"


async def test_a_job_finding_its_run_owned_by_a_silent_remote_worker_is_retried(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch
) -> None:
    """A worker on another machine died mid-run: procrastinate retries its job after
    FLOWYARD_WORKER_STALLED_AFTER (20 s), but the run's own heartbeat is only stale
    after recovery.STALE_AFTER_S (60 s), so the retried job finds a "live" owner.
    The job must come back until the run can be taken over, not fail for good and
    leave the run `running` forever."""
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")
    monkeypatch.setenv("FLOWYARD_WORKER_HEARTBEAT", "0.2")
    args = (workspace / "workflows", database_url, workspace)
    server = Runtime(*args, function_workers=1, resume=False, queue=True, local=False)
    worker = Runtime(*args, function_workers=1, resume=False, queue=True)
    await server.start()
    await worker.start()
    pool = server.db.log_pool
    stop = asyncio.Event()
    working: asyncio.Task[None] | None = None
    try:
        sub = await server.submit(write_workflow(SIMPLE.format(suffix="remote")), {})
        eid = sub.execution_id
        # As if a worker on host "elsewhere" had claimed it and beaten 30 s ago.
        await pool.execute(
            "UPDATE flowyard_runs SET owner = 'elsewhere:4242:1', status = 'running',"
            " heartbeat_at = now() - interval '30 seconds' WHERE execution_id = $1::uuid",
            eid,
        )
        working = asyncio.create_task(worker.work(2, stop))

        async def job_tried() -> bool:
            attempts = await pool.fetchval(
                "SELECT max(attempts) FROM procrastinate_jobs WHERE args->>'execution_id' = $1",
                eid,
            )
            return bool(attempts)

        assert await until(job_tried)
        # The remote owner stays silent: its heartbeat is now stale.
        await pool.execute(
            "UPDATE flowyard_runs SET heartbeat_at = now() - interval '10 minutes'"
            " WHERE execution_id = $1::uuid",
            eid,
        )

        async def finished() -> bool:
            status = await pool.fetchval(
                "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid", eid
            )
            return status == "succeeded"

        assert await until(finished), "the run was left unfinished: its job was dropped"
    finally:
        stop.set()
        if working is not None:
            await working
        await worker.close()
        await server.close()


#: Effects on both sides of the pause: a row written in a transaction group that
#: commits after it, and an HTTP call after it.
HELD_EFFECTS = (
    """
name: audit_taken_{suffix}
blocks:
  start: {{type: manual}}
  write:
    type: database
    transaction: tx
    query: INSERT INTO {table} (run) VALUES (<workflow.execution_id>)"""
    + HOLD
    + """
  close:
    type: database
    transaction: tx
    query: "SELECT count(*) AS n FROM {table}"
  notify:
    type: http
    method: POST
    url: "{url}/notify"
    json: {{run: "<workflow.execution_id>"}}
edges: [start -> write, write -> hold, hold -> close, close -> notify]
"""
)


async def test_an_owner_that_comes_back_after_a_takeover_applies_nothing_twice(
    runtime: Runtime, database_url: str, write_workflow, tmp_path: Path
) -> None:
    """The owner went silent (a long pause, a lost network) with a transaction group
    open, and another process took the run over (`runs resume`). When the first one
    comes back, its writes to the run log find the run owned by another: its group
    rolls back instead of committing the row a second time, it makes no HTTP call,
    and it records no end; the run ends once, as the new owner executed it."""
    log, gate = tmp_path / "log", tmp_path / "gate"
    table = f"taken_{uuid.uuid4().hex[:12]}"
    pool = runtime.db.log_pool
    await pool.execute(f"CREATE TABLE {table} (run TEXT)")
    row = "SELECT owner, status FROM flowyard_runs WHERE execution_id = $1::uuid"
    with RecordingServer() as peer:
        wf = write_workflow(
            HELD_EFFECTS.format(
                suffix=table, table=table, log=str(log), gate=str(gate), url=peer.url
            )
        )
        eid = (await runtime.submit(wf, {})).execution_id

        async def held_by(n: int) -> bool:
            return log.exists() and log.read_text().split().count("hold") >= n

        assert await until(lambda: held_by(1))
        # This process goes silent: its heartbeat is stale, another process takes over.
        stale = (
            "UPDATE flowyard_runs SET heartbeat_at = now() - interval '10 minutes'"
            " WHERE execution_id = $1::uuid AND owner = $2"
        )
        await pool.execute(stale, eid, runtime.owner)

        async def taken_over() -> bool:
            # Silent until then: this process's own heartbeat (every 10 s) made the run
            # look held again before a resumer slow to start (a loaded machine) asked.
            await pool.execute(stale, eid, runtime.owner)
            return await held_by(2)

        env = {**os.environ, "DATABASE_URL": database_url}
        resumer = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "runs", "resume", eid],
            cwd=runtime.workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            # A generous deadline: the resumer is a new process (imports, a pool, a
            # function worker), which took over 30 s on a loaded 2-core machine.
            if not await until(taken_over, attempts=1800):
                resumer.kill()
                said, _ = resumer.communicate()
                raise AssertionError(f"the run was not taken over: {said}")
            assert (await pool.fetchrow(row, eid))["owner"] != runtime.owner
            gate.write_text("open")  # both come back
            out, _ = await asyncio.to_thread(resumer.communicate, timeout=180)
            assert f"{eid} succeeded" in out, out
            # The first owner stops and answers with the run's real end.
            result = await asyncio.wait_for(runtime.wait(eid), 180)
        finally:
            if resumer.poll() is None:
                resumer.kill()
                resumer.wait()
        assert result["status"] == "succeeded"
        assert [r.json for r in peer.requests] == [{"run": eid}]
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 1
    events = await runtime.run_events(eid)
    ends = [e["type"] for e in events if e["type"] in ("run_succeeded", "run_failed")]
    assert ends == ["run_succeeded"], ends
    commits = [e for e in events if e["type"] == "transaction_committed"]
    assert len(commits) == 1, commits
    assert (await pool.fetchrow(row, eid))["status"] == "succeeded"


async def test_a_run_taken_over_is_stopped_before_its_next_block(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch, caplog
) -> None:
    """A run whose next block has no effect (a Function: no checkpoint write before
    it) is stopped by the heartbeat (or the periodic flush), which finds the run
    owned by another process: the block after the pause never runs here."""
    monkeypatch.setattr("engine.runtime.HEARTBEAT_S", 0.2)
    rt = Runtime(workspace / "workflows", database_url, workspace, function_workers=1, resume=False)
    await rt.start()
    log, gate = tmp_path / "log", tmp_path / "gate"
    try:
        wf = write_workflow(HELD.format(suffix="beat", log=str(log), gate=str(gate)))
        eid = (await rt.submit(wf, {})).execution_id
        assert await until(log.exists)
        pool = rt.db.log_pool
        # Another process took the run over (its claim: a new owner).
        await pool.execute(
            "UPDATE flowyard_runs SET owner = 'elsewhere:1:1' WHERE execution_id = $1::uuid", eid
        )

        async def stopped() -> bool:
            return "taken over by another process" in caplog.text

        assert await until(stopped), "the heartbeat did not notice the takeover"
        gate.write_text("open")
        # The new owner ends the run; the first one answers with that end.
        await pool.execute(
            "UPDATE flowyard_runs SET status = 'succeeded', finished_at = now()"
            " WHERE execution_id = $1::uuid",
            eid,
        )
        result = await asyncio.wait_for(rt.wait(eid), 30)
    finally:
        gate.write_text("open")
        await rt.close()
    assert result["status"] == "succeeded"
    assert log.read_text().split() == ["hold"]


async def test_resume_of_a_run_owned_by_a_live_process_is_refused_loudly(
    runtime: Runtime, database_url: str, write_workflow, tmp_path: Path
) -> None:
    """`flowyard runs resume ID` must not take a live process's run, and must say
    so (exit 1): printing nothing and exiting 0 reads as "resumed"."""
    gate = tmp_path / "gate"
    log = tmp_path / "log"
    wf = write_workflow(HELD.format(suffix="live", log=str(log), gate=str(gate)))
    eid = (await runtime.submit(wf, {})).execution_id
    try:
        assert await until(log.exists)
        env = {**os.environ, "DATABASE_URL": database_url}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "ui.cli", "runs", "resume", eid],
            cwd=runtime.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        owner = await runtime.db.log_pool.fetchval(
            "SELECT owner FROM flowyard_runs WHERE execution_id = $1::uuid", eid
        )
        assert owner == runtime.owner  # not taken
        assert done.returncode == 1, done.stdout + done.stderr
        assert "not resumed" in done.stderr
    finally:
        gate.write_text("open")
        await asyncio.wait_for(runtime.wait(eid), 60)
    assert log.read_text().split() == ["hold", "after"]
