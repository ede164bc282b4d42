"""Cancelling a run that waits for a slot (FLOWYARD_MAX_ACTIVE_RUNS) or its key's
turn (engine/inflight.py): it is answered `cancelled` at once, those waiting for it
are answered then, not when its turn comes, and a cancel the database cannot record
(an outage) fails without stopping the process from running that run and others.

The runtime reaches PostgreSQL through a relay the test cuts (tests/relay.py); the
run ahead is held in a Function block until the test opens its gate.
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

from engine.database import server_unreachable
from engine.model import Workflow, load_file
from engine.runtime import Runtime

QUICK = """
name: quick_{suffix}
blocks:
  start: {{type: manual}}
  work: {{type: function, code: "return {{'ran': True}}"}}
edges: [start -> work]
"""


class Slot(NamedTuple):
    direct: str  # the database's URL, not through the relay
    relay: Any
    rt: Runtime  # one slot, reaching the database through the relay
    ahead: str  # the run holding the slot, in `hold` until `gate` exists
    gate: Path
    quick: Workflow


async def _status(direct: str, eid: str) -> str | None:
    conn = await asyncpg.connect(direct)
    try:
        return await conn.fetchval(
            "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid", eid
        )
    finally:
        await conn.close()


@pytest_asyncio.fixture(loop_scope="session")
async def slot(relayed_url: tuple[str, str, Any], tmp_path: Path) -> AsyncIterator[Slot]:
    direct, through, relay = relayed_url
    rt = Runtime(
        tmp_path / "workflows", through, tmp_path, function_workers=1, resume=False,
        max_active_runs=1,
    )  # fmt: skip
    await rt.start()
    try:
        log, gate = tmp_path / "log", tmp_path / "gate"
        suffix = uuid.uuid4().hex[:8]
        (tmp_path / "held.yaml").write_text(
            HELD.format(suffix=suffix, log=str(log), gate=str(gate))
        )
        (tmp_path / "quick.yaml").write_text(QUICK.format(suffix=suffix))
        ahead = (await rt.submit(load_file(tmp_path / "held.yaml"), {})).execution_id
        assert await until(log.exists), "the run ahead never reached `hold`"
        yield Slot(direct, relay, rt, ahead, gate, load_file(tmp_path / "quick.yaml"))
    finally:
        gate.write_text("open")
        await rt.close()


async def test_a_waiting_run_cancelled_is_answered_at_once_not_when_its_turn_comes(
    slot: Slot,
) -> None:
    rt = slot.rt
    waiting = (await rt.submit(slot.quick, {})).execution_id
    waiter = asyncio.create_task(rt.wait(waiting))
    await asyncio.sleep(0.2)  # the waiter is waiting on the run's task
    assert await rt.request_cancel(waiting) == "cancelled"  # recorded, not "cancelling"
    result = await asyncio.wait_for(waiter, 30)
    assert result["status"] == "cancelled"
    assert await _status(slot.direct, slot.ahead) == "running"  # its turn has not come
    slot.gate.write_text("open")
    assert (await rt.wait(slot.ahead))["status"] == "succeeded"
    assert (await rt.wait(waiting))["status"] == "cancelled"  # and it never began


async def test_a_cancel_the_database_cannot_record_fails_and_leaves_the_run_as_it_was(
    slot: Slot,
) -> None:
    """A cancel is only answered once recorded: with the database away it fails (the
    API's 503: ask again), and the run stays as it was — it executes in its turn,
    and holds neither the slot nor its place: the runs after it execute too. (Kept in
    memory instead, the cancel was lost by a stop before the database came back.)"""
    rt = slot.rt
    waiting = (await rt.submit(slot.quick, {})).execution_id
    slot.relay.cut()
    with pytest.raises(Exception) as refused:
        await rt.request_cancel(waiting)
    assert server_unreachable(refused.value), refused.value
    slot.relay.restore()
    slot.gate.write_text("open")
    assert (await asyncio.wait_for(rt.wait(slot.ahead), 60))["status"] == "succeeded"
    result = await asyncio.wait_for(rt.wait(waiting), 60)
    assert result["status"] == "succeeded" and result["output"] == {"ran": True}, result
    later = (await rt.submit(slot.quick, {})).execution_id
    assert (await asyncio.wait_for(rt.wait(later), 60))["status"] == "succeeded"
    assert rt.runs_waiting == 0 and rt.runs_in_flight == 0
