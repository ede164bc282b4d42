"""A run in flight when PostgreSQL stops answering (a restart, a failover, a cut
network) is not left `running` forever: its process keeps it (and its waiters),
continues it from its log once the database is back, and a cancel asked meanwhile
ends it. A run whose
task died of anything else is no longer kept alive by the heartbeat, so a restart,
`runs resume` or another process can take it over.

The runtime reaches PostgreSQL through a relay the test cuts (tests/relay.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import pytest
import pytest_asyncio
from held_runs import HELD, until

from engine import runstore, workflow_versions
from engine.model import load_file
from engine.runtime import Runtime


async def _status(direct: str, eid: str) -> str | None:
    conn = await asyncpg.connect(direct)
    try:
        return await conn.fetchval(
            "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid", eid
        )
    finally:
        await conn.close()


def _ended(direct: str, eid: str, status: str) -> Any:
    async def check() -> bool:
        return await _status(direct, eid) == status

    return check


class Held(NamedTuple):
    direct: str  # the database's URL, not through the relay
    relay: Any
    rt: Runtime  # reaching the database through the relay
    eid: str
    log: Path
    gate: Path


@pytest_asyncio.fixture(loop_scope="session")
async def held(relayed_url: tuple[str, str, Any], tmp_path: Path) -> AsyncIterator[Held]:
    """A runtime reaching PostgreSQL through the relay, with a run held in `hold`
    (its start already in the log, flushed every 0.2 s)."""
    direct, through, relay = relayed_url
    rt = Runtime(tmp_path / "workflows", through, tmp_path, function_workers=1, resume=False)
    await rt.start()
    try:
        log, gate = tmp_path / "log", tmp_path / "gate"
        wf_file = tmp_path / "held.yaml"
        wf_file.write_text(HELD.format(suffix=uuid.uuid4().hex[:8], log=str(log), gate=str(gate)))
        eid = (await rt.submit(load_file(wf_file), {})).execution_id
        assert await until(log.exists), "the run never reached `hold`"

        async def hold_logged() -> bool:
            return (await rt.run_result(eid))["blocks"]["hold"]["status"] == "running"

        assert await until(hold_logged)
        yield Held(direct, relay, rt, eid, log, gate)
    finally:
        await rt.close()


async def test_a_run_cut_off_from_the_database_goes_on_once_it_is_back(held: Held) -> None:
    direct, relay, rt, eid, log, gate = held
    waiter = asyncio.create_task(rt.wait(eid))
    relay.cut()  # PostgreSQL is gone while `hold` runs
    gate.write_text("open")  # `hold` returns; the run's end cannot be written
    assert await until(lambda: "after" in log.read_text()), "the run did not go on"
    await asyncio.sleep(1.5)
    assert eid in rt._runs.tasks and not waiter.done()  # still held here, still awaited
    relay.restore()
    result = await asyncio.wait_for(waiter, 60)  # the waiter gets the run's real end
    assert result["status"] == "succeeded", result["error"]
    assert await _status(direct, eid) == "succeeded"
    # Continued from its log: what never reached it ran again (pure blocks).
    assert log.read_text().split()[-2:] == ["hold", "after"]
    assert log.read_text().split().count("hold") == 2


async def test_a_run_whose_end_waited_for_the_database_is_counted_finished_once(
    held: Held, caplog: pytest.LogCaptureFixture
) -> None:
    """flowyard_runs_finished_total: counted when the end is recorded, not when the run
    reached it, or a run continued from its log after an outage was counted twice."""
    _, relay, rt, eid, log, gate = held
    name = (await rt.run_result(eid))["workflow"]
    waiter = asyncio.create_task(rt.wait(eid))
    relay.cut()
    gate.write_text("open")  # the run reaches its end; the end cannot be written

    def stopped() -> bool:
        said = f"run {eid} stopped, the database cannot be reached"
        return any(said in r.getMessage() for r in caplog.records)

    assert await until(stopped), "the run's end was not refused"
    relay.restore()
    result = await asyncio.wait_for(waiter, 60)
    assert result["status"] == "succeeded", result["error"]
    assert log.read_text().split().count("hold") == 2  # it was continued from its log
    assert rt.metrics.runs_finished[(name, "succeeded")] == 1


async def test_a_cancel_while_the_database_is_away_ends_the_run_once_it_is_back(held: Held) -> None:
    direct, relay, rt, eid, log, gate = held
    relay.cut()
    gate.write_text("open")
    assert await until(lambda: "after" in log.read_text()), "the run did not go on"
    await asyncio.sleep(1.5)
    assert await rt.request_cancel(eid) == "cancelling"  # asked while it is away
    relay.restore()
    assert await until(_ended(direct, eid, "cancelled"))
    name = (await rt.run_result(eid))["workflow"]
    assert await until(lambda: rt.metrics.runs_finished[(name, "cancelled")] == 1)
    await asyncio.sleep(2.0)
    assert await _status(direct, eid) == "cancelled"
    assert log.read_text().split().count("hold") == 1  # it was not continued
    # No block of the finished run is left `running` (its end never reached the log).
    blocks = (await rt.run_result(eid))["blocks"]
    assert {b["status"] for b in blocks.values()} <= {"succeeded", "failed", "pending"}


async def test_a_cancel_while_a_block_runs_and_the_database_is_away_is_kept(held: Held) -> None:
    """The cancel stops the block; the run's cancelled end cannot be written yet. Once
    the database answers, that end is written — the run is not continued."""
    direct, relay, rt, eid, log, gate = held
    relay.cut()
    assert await rt.request_cancel(eid) == "cancelling"  # `hold` is still holding
    await asyncio.sleep(1.5)
    gate.write_text("open")
    relay.restore()
    assert await until(_ended(direct, eid, "cancelled"))
    name = (await rt.run_result(eid))["workflow"]
    assert await until(lambda: rt.metrics.runs_finished[(name, "cancelled")] == 1)
    await asyncio.sleep(2.5)  # long enough for a continuation to have begun
    assert await _status(direct, eid) == "cancelled"
    assert log.read_text().split() == ["hold"]  # not run again, `after` never
    blocks = (await rt.run_result(eid))["blocks"]
    assert blocks["hold"]["status"] == "failed" and blocks["after"]["status"] == "pending"
    assert blocks["hold"]["error"]["type"] == "Cancelled"


async def test_the_heartbeat_keeps_only_the_runs_this_process_holds(
    runtime: Runtime, write_workflow: Any
) -> None:
    """A run this process owns on paper but no longer executes (its task died of a
    bug) is not beaten: it goes stale, and can be taken over."""
    pool = runtime.db.log_pool
    wf = write_workflow("name: beat_held\nblocks:\n  s: {type: manual}\n")
    version = await workflow_versions.save_version(pool, wf, set())
    from engine import intake

    eid, *_ = await intake.accept(pool, wf.name, version, "manual", {}, None, runtime.owner)
    await pool.execute(
        "UPDATE flowyard_runs SET status = 'running',"
        " heartbeat_at = now() - interval '10 minutes' WHERE execution_id = $1::uuid",
        eid,
    )
    owned = await runstore.beat(pool, runtime.owner, [])
    assert eid not in owned
    stale = await pool.fetchval(
        "SELECT heartbeat_at < now() - interval '5 minutes' FROM flowyard_runs"
        " WHERE execution_id = $1::uuid",
        eid,
    )
    assert stale is True
    assert eid in await runstore.beat(pool, runtime.owner, [eid])  # held: beaten
    await pool.execute(
        "UPDATE flowyard_runs SET status = 'failed' WHERE execution_id = $1::uuid", eid
    )


_GROUPED = """
name: grouped_{suffix}
blocks:
  start: {{type: manual}}
  g1: {{type: database, transaction: t, query: "INSERT INTO ledger VALUES ('g1')"}}
  g2: {{type: database, transaction: t, query: "SELECT pg_sleep(2)"}}
  g3: {{type: database, transaction: t, query: "INSERT INTO ledger VALUES ('g3')"}}
  after:
    type: function
    code: |
      return {{"done": True}}
edges: [start -> g1, g1 -> g2, g2 -> g3, g3 -> after]
"""


async def test_a_run_cut_off_inside_a_transaction_group_goes_on_once_it_is_back(
    relayed_url: tuple[str, str, Any], tmp_path: Path
) -> None:
    """The group's connection drops under `g2`: rolling the group back on it failed
    with asyncpg's "connection has been released back to the pool", which killed the
    run's task (a sync caller got a 500, `flowyard run` exited 1, the run waited for
    a takeover). Its waiter must get its real end, as without a group."""
    direct, through, relay = relayed_url
    conn = await asyncpg.connect(direct)
    try:
        await conn.execute("CREATE TABLE ledger (step text)")
    finally:
        await conn.close()
    rt = Runtime(tmp_path / "workflows", through, tmp_path, function_workers=1, resume=False)
    await rt.start()
    try:
        wf_file = tmp_path / "grouped.yaml"
        wf_file.write_text(_GROUPED.format(suffix=uuid.uuid4().hex[:8]))
        eid = (await rt.submit(load_file(wf_file), {})).execution_id
        waiter = asyncio.create_task(rt.wait(eid))

        async def g2_sleeping() -> bool:
            return (await rt.run_result(eid))["blocks"]["g2"]["status"] == "running"

        assert await until(g2_sleeping), "the run never reached `g2`"
        relay.cut()  # PostgreSQL is gone while the group is open
        await asyncio.sleep(1.5)
        assert not waiter.done(), waiter.exception()  # still held here, still awaited
        relay.restore()
        result = await asyncio.wait_for(waiter, 60)  # the waiter gets the run's real end
        assert result["status"] == "succeeded", result["error"]
        assert await _status(direct, eid) == "succeeded"
        conn = await asyncpg.connect(direct)
        try:  # the cut attempt's insert went with its transaction: one of each
            steps = sorted(r["step"] for r in await conn.fetch("SELECT step FROM ledger"))
        finally:
            await conn.close()
        assert steps == ["g1", "g3"]
    finally:
        await rt.close()
