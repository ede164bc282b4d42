"""A ``concurrency_key`` is one key for the whole database, not one per workflow.

Order Processing, its Agent variant and a `flowyard new` copy of it write the same
tables; with keys scoped per workflow, one order's events sent to two of them ran
at once and its held notifications were sent twice. Runs of different workflows
with equal keys now run one at a time, in the order they were accepted — in the
accepting process, on a queue worker, and in the engine process of
`serve --engine-process` — and runs accepted before the change (keys stored as
``<workflow>:<key>``) are carried over by the schema upgrade.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from db_helpers import new_database

from engine import migrations
from engine.handoff import take_handoffs
from engine.model import Workflow
from engine.runtime import Runtime

#: A run writes "<workflow>:<n>:start", works (the first run of each pair long,
#: so that a run beside it would start before it ends), then "<workflow>:<n>:end".
STEP = """
name: {name}
blocks:
  start: {{type: manual}}
  step:
    type: function  # in a worker process: the engine's loop runs other runs meanwhile
    code: |
      import time
      with open({log!r}, "a") as f:
          f.write("{name}:" + str(<start.n>) + ":start\\n")
      time.sleep(0.4 if <start.n> % 2 == 0 else 0.0)
      with open({log!r}, "a") as f:
          f.write("{name}:" + str(<start.n>) + ":end\\n")
      return {{"n": <start.n>}}
edges: [start -> step]
"""

MODES = ["in process", "queue", "engine process"]


@asynccontextmanager
async def accepting_and_executing(
    mode: str, workspace: Path, url: str
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """(the runtime that accepts, the one that executes) for ``mode``: one process,
    `serve --no-worker` and a `flowyard worker`, or a web process handing its runs
    to an engine process."""
    args = (workspace / "workflows", url, workspace)
    if mode == "in process":
        rt = Runtime(*args, function_workers=2, resume=False)
        await rt.start()
        try:
            yield rt, rt
        finally:
            await rt.close()
        return
    queue = mode == "queue"
    server = Runtime(*args, function_workers=2, resume=False, queue=True, local=False)
    server.handoff = not queue
    engine = Runtime(*args, function_workers=2, resume=False, queue=queue)
    await server.start()
    await engine.start()
    stop = asyncio.Event()
    working = asyncio.create_task(engine.work(4, stop) if queue else _take_until(engine, stop))
    try:
        yield server, engine
    finally:
        stop.set()
        await working
        await engine.close()
        await server.close()


async def _take_until(engine: Runtime, stop: asyncio.Event) -> None:
    taking = asyncio.create_task(take_handoffs(engine))
    await stop.wait()
    taking.cancel()
    await asyncio.gather(taking, return_exceptions=True)


@pytest.mark.parametrize("mode", MODES)
async def test_two_workflows_with_one_key_run_one_at_a_time_in_acceptance_order(
    mode: str, workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")  # no other session's worker
    log = tmp_path / "log"
    tag = uuid.uuid4().hex[:8]
    first = write_workflow(STEP.format(name=f"first_{tag}", log=str(log)))
    second = write_workflow(STEP.format(name=f"second_{tag}", log=str(log)))
    # A job's lock is one for every queue on the database: a key no other test uses.
    key = f"order:{tag}"
    async with accepting_and_executing(mode, workspace, database_url) as (server, _):
        # Alternating: first 0 (long), second 1, first 2 (long), second 3.
        subs = [
            await server.submit(wf, {"n": n}, concurrency_key=key)
            for n, wf in enumerate([first, second, first, second])
        ]
        results = [await server.wait(s.execution_id, timeout=60) for s in subs]
    assert [r["status"] for r in results] == ["succeeded"] * 4
    expected = [
        f"{name}_{tag}:{n}:{at}"
        for n, name in enumerate(["first", "second", "first", "second"])
        for at in ("start", "end")
    ]
    assert log.read_text().split() == expected  # never two at once; as accepted


async def test_a_rerun_keeps_its_runs_key_and_waits_its_turn(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path
) -> None:
    """A re-run of an order's event is ordered with that order's other runs, as the
    run it repeats was: without the key it ran beside the order's next event."""
    log = tmp_path / "log"
    tag = uuid.uuid4().hex[:8]
    wf = write_workflow(STEP.format(name=f"again_{tag}", log=str(log)))
    key = f"order:{tag}"
    async with accepting_and_executing("in process", workspace, database_url) as (rt, _):
        first = await rt.submit(wf, {"n": 1}, concurrency_key=key)
        await rt.wait(first.execution_id, timeout=60)
        long = await rt.submit(wf, {"n": 0}, concurrency_key=key)  # 0: the long one
        again = await rt.rerun(first.execution_id, from_failed=False)
        results = [await rt.wait(s.execution_id, timeout=60) for s in (long, again)]
        row = await rt.db.log_pool.fetchrow(
            "SELECT concurrency_key FROM flowyard_runs WHERE execution_id = $1::uuid",
            again.execution_id,
        )
    assert [r["status"] for r in results] == ["succeeded"] * 2
    assert row["concurrency_key"] == key
    name = f"again_{tag}"
    assert log.read_text().split() == [
        f"{name}:1:start", f"{name}:1:end",
        f"{name}:0:start", f"{name}:0:end",  # the re-run did not start beside it
        f"{name}:1:start", f"{name}:1:end",
    ]  # fmt: skip


# -- runs accepted before keys were global ------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def own_database(database_url: str) -> AsyncIterator[str]:
    yield await new_database(database_url, "oldkeys")


async def _as_before_version_4(
    url: str, workspace: Path, wf: Workflow, other: Workflow, dead: str
) -> tuple[str, str, list[str]]:
    """Runs as the previous version left them, keys stored as ``<workflow>:<key>``:
    one its dead process executed (the long one, n=0), one queued for a worker, and
    two whose jobs ran at once (two workflows' key 7: a lock each). Returns their ids."""
    rt = Runtime(workspace / "workflows", url, workspace, resume=False, queue=True, local=False)
    await rt.start()
    try:
        pool = rt.db.log_pool
        rt.handoff = True  # accepted, executed by nobody
        executed = (await rt.submit(wf, {"n": 0}, concurrency_key="42")).execution_id
        rt.handoff = False  # a procrastinate job each
        queued = (await rt.submit(wf, {"n": 2}, concurrency_key="42")).execution_id
        both = [
            (await rt.submit(w, {"n": 5}, concurrency_key="7")).execution_id for w in (wf, other)
        ]
        await pool.execute(
            "UPDATE flowyard_runs SET concurrency_key = workflow || ':' || concurrency_key"
            " WHERE concurrency_key IS NOT NULL"
        )
        await pool.execute(
            "UPDATE procrastinate_jobs j SET lock = r.concurrency_key,"
            " status = CASE WHEN r.execution_id = ANY($1::uuid[]) THEN 'doing' ELSE j.status END"
            " FROM flowyard_runs r WHERE r.execution_id::text = j.args->>'execution_id'",
            both,
        )
        await pool.execute(
            "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = $1::uuid", executed, dead
        )
        # A finished run gets the new key too: a re-run of it keeps its key.
        await pool.execute(
            "INSERT INTO flowyard_runs (execution_id, workflow, status, concurrency_key)"
            " VALUES (gen_random_uuid(), 'done', 'succeeded', 'done:42')"
        )
        await pool.execute("DELETE FROM flowyard_schema WHERE version > 3")
    finally:
        await rt.close()
    return executed, queued, both


async def test_an_upgrade_gives_earlier_runs_the_key_new_runs_get(
    own_database: str, workspace: Path, write_workflow, tmp_path: Path, monkeypatch
) -> None:
    """A database upgraded in place: the run of a process that died, accepted with
    the key ``<workflow>:42``, is resumed with ``42``, the key the workflow's next
    delivery gets, so that one waits for it; queued jobs' locks follow."""
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")
    log = tmp_path / "log"
    tag = uuid.uuid4().hex[:8]
    wf = write_workflow(STEP.format(name=f"upgraded_{tag}", log=str(log)))
    other = write_workflow(STEP.format(name=f"other_{tag}", log=str(log)))
    dead = f"{socket.gethostname()}:999999999:1"  # a process of this host that is gone
    executed, queued, both = await _as_before_version_4(own_database, workspace, wf, other, dead)

    upgraded = Runtime(workspace / "workflows", own_database, workspace, function_workers=2)
    await upgraded.start()  # migrates, then resumes the dead process's run
    pool = upgraded.db.log_pool
    try:
        new = (await upgraded.submit(wf, {"n": 1}, concurrency_key="42")).execution_id
        for eid in (executed, new):
            assert (await upgraded.wait(eid, timeout=60))["status"] == "succeeded"
        runs = "SELECT execution_id::text, concurrency_key FROM flowyard_runs"
        keys = dict(await pool.fetch(runs + " WHERE workflow <> 'done'"))
        assert keys == {executed: "42", new: "42", queued: "42", both[0]: "7", both[1]: "7"}
        [(_, finished)] = await pool.fetch(runs + " WHERE workflow = 'done'")
        assert finished == "42"
        jobs = dict(
            await pool.fetch(
                "SELECT args->>'execution_id', lock FROM procrastinate_jobs WHERE queue_name = $1",
                f"test-{tmp_path.name}",
            )
        )
        assert jobs[queued] == "42"
        # Of two jobs running at once, the first takes the key; the other ends as it was.
        assert [jobs[both[0]], jobs[both[1]]] == ["7", f"{other.name}:7"]

        # Taken once: a later version's upgrade does not cut keys of this version
        # (a key written `upgraded_…:<…>` stays whole).
        await pool.execute(
            "UPDATE flowyard_runs SET concurrency_key = $2 WHERE execution_id = $1::uuid",
            queued, f"{wf.name}:x",
        )  # fmt: skip
        monkeypatch.setattr(migrations, "SCHEMA_VERSION", migrations.SCHEMA_VERSION + 1)
        await migrations.migrate(pool)
        assert (
            await pool.fetchval(
                "SELECT concurrency_key FROM flowyard_runs WHERE execution_id = $1::uuid", queued
            )
            == f"{wf.name}:x"
        )
    finally:
        await upgraded.close()
    name = wf.name
    assert log.read_text().split() == [
        f"{name}:0:start", f"{name}:0:end", f"{name}:1:start", f"{name}:1:end"
    ]  # fmt: skip
