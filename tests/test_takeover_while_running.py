"""Processes that keep running take over the runs of a process that died.

A run executed by the process that accepted it (serve's fast path, `flowyard run`)
has no queue job another worker would retry: when that process was killed, its run
stayed `running` until some process *started* or `flowyard runs resume` was typed.
Every working process now looks for such runs each heartbeat and claims them; the
claim is one UPDATE, so two processes looking at once never both take a run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import psutil
import pytest
import pytest_asyncio
from db_helpers import new_database
from held_runs import HOLD, until
from standins.recording import RecordingServer

from engine.migrations import migrate
from engine.queue import DEFAULT_QUEUE as D  # the deployment of runs inserted here
from engine.recovery import claim
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

#: An effect before the pause (recorded done), and one after it.
WORKFLOW = (
    """
name: taken_over
blocks:
  start: {{type: manual}}
  first:
    type: http
    method: POST
    url: "{url}/first"
    json: {{run: "<workflow.execution_id>"}}"""
    + HOLD
    + """
  second:
    type: http
    method: POST
    url: "{url}/second"
    json: {{run: "<workflow.execution_id>"}}
edges: [start -> first, first -> hold, hold -> second]
"""
)


@pytest_asyncio.fixture(loop_scope="session")
async def own_database(database_url: str) -> AsyncIterator[str]:
    """A database of the test's own: the processes here claim every orphan they see."""
    yield await new_database(database_url, "takeover")


def _dead_local_owner() -> str:
    """The owner id of a process of this host that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = int(psutil.Process(proc.pid).create_time())
    proc.kill()
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}:{started}"


async def _status(pool: asyncpg.Pool, eid: str) -> str | None:
    return await pool.fetchval(
        "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid", eid
    )


async def test_working_processes_take_over_the_run_of_a_process_killed_9(
    own_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("engine.runtime.HEARTBEAT_S", 0.2)  # looks for orphans this often
    monkeypatch.setenv("FLOWYARD_QUEUE", f"takeover-{tmp_path.name}")
    log, gate = tmp_path / "log", tmp_path / "gate"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    # Two processes that keep working (a serve and a worker, say); the second one as
    # if it ran on another host, so the two have different owner ids.
    survivors = [
        Runtime(workflows, own_database, tmp_path, function_workers=1, queue=True) for _ in range(2)
    ]
    survivors[1].owner = "peer-host:2:2"
    stop = asyncio.Event()
    working: list[asyncio.Task[None]] = []
    with RecordingServer() as peer:
        wf = workflows / "taken_over.yaml"
        wf.write_text(WORKFLOW.format(url=peer.url, log=str(log), gate=str(gate)))
        env = {**os.environ, "DATABASE_URL": own_database}
        victim = subprocess.Popen([sys.executable, "-m", "ui.cli", "run", str(wf)], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            for rt in survivors:
                await rt.start()
                working.append(asyncio.create_task(rt.work(2, stop)))
            pool = survivors[0].db.log_pool

            async def first_recorded() -> bool:
                return bool(await pool.fetchval(
                    "SELECT count(*) FROM flowyard_run_events"
                    " WHERE type = 'block_succeeded' AND block = 'first'"
                ))  # fmt: skip

            assert await until(lambda: log.exists()), "the run did not reach its pause"
            assert await until(first_recorded)
            eid = str(await pool.fetchval("SELECT execution_id FROM flowyard_runs"))
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            assert await _status(pool, eid) == "running"
            gate.write_text("open")

            async def finished() -> bool:
                return await _status(pool, eid) == "succeeded"

            assert await until(finished, attempts=600), "nobody took the dead process's run"
        finally:
            gate.write_text("open")
            if victim.poll() is None:
                victim.kill()
                victim.wait()
            stop.set()
            await asyncio.gather(*working, return_exceptions=True)
            for rt in survivors:
                if hasattr(rt, "db"):
                    await rt.close()
        paths = [r.path for r in peer.requests]
    # Taken over once, resumed after its last completed block: each effect once.
    assert paths == ["/first", "/second"], paths
    check = await asyncpg.connect(own_database)
    try:
        ends = await check.fetchval(
            "SELECT count(*) FROM flowyard_run_events WHERE type = 'run_succeeded'"
        )
        owner = await check.fetchval("SELECT owner FROM flowyard_runs")
    finally:
        await check.close()
    assert ends == 1
    assert owner in {rt.owner for rt in survivors}


async def test_two_processes_claiming_at_once_never_both_take_a_run(own_database: str) -> None:
    """Runs of a dead local owner and of a silent remote one, each claimed by two
    processes at the same moment: exactly one takes it, the other gets nothing."""
    dead = _dead_local_owner()
    a = await asyncpg.create_pool(own_database, min_size=2, max_size=4)
    b = await asyncpg.create_pool(own_database, min_size=2, max_size=4)
    try:
        await migrate(a)
        eids = [
            str(r["execution_id"])
            for r in await a.fetch(
                "INSERT INTO flowyard_runs (execution_id, workflow, status, owner, heartbeat_at)"
                " SELECT gen_random_uuid(), 'orphans', 'running',"
                "        CASE WHEN n % 2 = 0 THEN $1 ELSE 'elsewhere:1:1' END,"
                "        now() - CASE WHEN n % 2 = 0 THEN interval '0' ELSE interval '10 minutes' END"
                "   FROM generate_series(1, 40) AS n RETURNING execution_id",
                dead,
            )
        ]
        won: dict[str, list[str]] = {"a-host:1:1": [], "b-host:2:2": []}
        for eid in eids:
            got = await asyncio.gather(
                claim(a, "a-host:1:1", eid, deployment=D), claim(b, "b-host:2:2", eid, deployment=D)
            )
            for me, rows in zip(won, got, strict=True):
                won[me] += [str(r["execution_id"]) for r in rows]
        assert sorted(won["a-host:1:1"] + won["b-host:2:2"]) == sorted(eids)  # each once
        owners = dict(await a.fetch("SELECT execution_id::text, owner FROM flowyard_runs"))
        assert all(owners[eid] == me for me, taken in won.items() for eid in taken)
        # Both claimers are alive (other hosts, fresh heartbeats): a third takes nothing.
        assert await claim(a, "c-host:3:3", deployment=D) == []
    finally:
        await a.close()
        await b.close()
