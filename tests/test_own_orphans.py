"""A process resumes runs it owns but does not execute (engine/own_runs.py) — and
never one it executes, or is about to start.

A run owned by a live process is never taken by another: when its process has no
task for it (the INSERT accepting it committed after the caller gave up), only that
process's own sweep can run it. The sweep must tell such a run from one it holds
whose heartbeat lags (the database was away), and from one a coroutine of its own
has just accepted or claimed and not yet started.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from db_helpers import new_database
from held_runs import HELD, until

from engine import intake, runstore, workflow_versions
from engine.model import load_file
from engine.runtime import Runtime

SWEEP_S = 0.2


@pytest_asyncio.fixture(loop_scope="session")
async def sweeping(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Runtime]:
    """A runtime on a database of its own, looking for orphans every 0.2 s."""
    monkeypatch.setattr("engine.runtime.HEARTBEAT_S", SWEEP_S)
    own = await new_database(database_url, "own_orphans")
    rt = Runtime(tmp_path / "workflows", own, tmp_path, function_workers=1)
    await rt.start()
    sweep = asyncio.create_task(rt.take_over_orphans(SWEEP_S))
    try:
        yield rt
    finally:
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)
        await rt.close()


def _held(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A workflow held in `hold` until its gate exists; its log and its gate."""
    log, gate = tmp_path / "log", tmp_path / "gate"
    wf = tmp_path / "held.yaml"
    wf.write_text(HELD.format(suffix=uuid.uuid4().hex[:8], log=str(log), gate=str(gate)))
    return wf, log, gate


async def _status(rt: Runtime, eid: str) -> str | None:
    return await runstore.run_status(rt.db.log_pool, eid)


async def test_a_run_it_executes_is_not_resumed_however_late_its_heartbeat(
    sweeping: Runtime, tmp_path: Path
) -> None:
    rt = sweeping
    wf, log, gate = _held(tmp_path)
    eid = (await rt.submit(load_file(wf), {})).execution_id
    try:
        assert await until(log.exists), "the run never reached `hold`"
        # Its heartbeat lags, as when the database was away: ten sweeps see it unbeaten.
        for _ in range(int(10 * SWEEP_S / 0.05)):
            await rt.db.log_pool.execute(
                "UPDATE flowyard_runs SET heartbeat_at = now() - interval '1 hour'"
                " WHERE execution_id = $1::uuid",
                eid,
            )
            await asyncio.sleep(0.05)
    finally:
        gate.write_text("open")
    assert (await rt.wait(eid, timeout=60))["status"] == "succeeded"
    await asyncio.sleep(3 * SWEEP_S)  # a second execution, had one begun, would go on
    assert log.read_text().split() == ["hold", "after"]


async def test_a_run_it_owns_without_a_task_is_executed_once_nothing_may_start_it(
    sweeping: Runtime, tmp_path: Path
) -> None:
    """Stored under this process's name with no task (an INSERT whose caller gave up):
    left alone while a coroutine that may be starting it is under way, then run."""
    rt = sweeping
    wf, log, gate = _held(tmp_path)
    gate.write_text("open")
    workflow = load_file(wf)
    pool = rt.db.log_pool
    version = await workflow_versions.save_version(pool, workflow, set())
    with rt.starts.starting():  # an accept or claim of this process, not yet settled
        eid, *_ = await intake.accept(pool, workflow.name, version, "manual", {}, None, rt.owner)
        await asyncio.sleep(10 * SWEEP_S)
        assert await _status(rt, eid) == "queued" and not log.exists()

    async def succeeded() -> bool:
        return await _status(rt, eid) == "succeeded"

    assert await until(succeeded), await _status(rt, eid)
    assert log.read_text().split() == ["hold", "after"]


async def test_an_own_orphan_runs_from_the_trigger_it_was_accepted_from(
    sweeping: Runtime, tmp_path: Path
) -> None:
    """The sweep's claim read the run back without `trigger_block`: a tick of the
    second schedule, resumed so, ran every trigger's branch."""
    rt = sweeping
    log = tmp_path / "branches"
    wf = tmp_path / "two_ticks.yaml"
    wf.write_text(
        f"name: two_ticks_{uuid.uuid4().hex[:8]}\n"
        "blocks:\n"
        "  every1: {type: schedule, cron: '0 0 1 1 *'}\n"
        "  every2: {type: schedule, cron: '0 0 1 2 *'}\n"
        f"  one: {{type: function, code: \"open(r'{log}', 'a').write('one '); return 1\"}}\n"
        f"  two: {{type: function, code: \"open(r'{log}', 'a').write('two '); return 2\"}}\n"
        "edges: [every1 -> one, every2 -> two]\n"
    )
    workflow = load_file(wf)
    pool = rt.db.log_pool
    version = await workflow_versions.save_version(pool, workflow, set())
    eid, *_ = await intake.accept(
        pool, workflow.name, version, "schedule", {}, None, rt.owner, trigger_block="every2"
    )

    async def succeeded() -> bool:
        return await _status(rt, eid) == "succeeded"

    assert await until(succeeded), await _status(rt, eid)
    assert log.read_text().split() == ["two"]
