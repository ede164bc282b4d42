"""Stopping a process (a deploy's SIGTERM) gives its runs a grace period to end:
a block that is let finish is recorded done, so a resume does not repeat its
effect; a run still going after the grace stays unfinished for the next start."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path
from typing import Any

from held_runs import HELD, until

from engine.model import load_file
from engine.runtime import Runtime


async def _start_held(workspace: Path, database_url: str, tmp_path: Path) -> Any:
    log, gate = tmp_path / "log", tmp_path / "gate"
    file = tmp_path / "held.yaml"
    file.write_text(HELD.format(suffix=uuid.uuid4().hex[:8], log=str(log), gate=str(gate)))
    rt = Runtime(tmp_path / "workflows", database_url, workspace, function_workers=1, resume=False)
    # As another process, which is gone once stopped (same host, no such pid).
    rt.owner = f"{socket.gethostname()}:{2**22 + 7}:1"
    await rt.start()
    eid = (await rt.submit(load_file(file), {})).execution_id
    assert await until(log.exists)
    return rt, eid, log, gate


async def test_a_run_that_ends_within_the_grace_is_recorded_done(
    workspace: Path, database_url: str, runtime: Runtime, tmp_path: Path
) -> None:
    rt, eid, log, gate = await _start_held(workspace, database_url, tmp_path)
    asyncio.get_running_loop().call_later(0.5, gate.write_text, "open")
    await rt.close(grace=30)
    assert (await runtime.run_result(eid))["status"] == "succeeded"
    assert log.read_text().split() == ["hold", "after"]


async def test_a_run_still_going_after_the_grace_stays_for_the_next_start(
    workspace: Path, database_url: str, runtime: Runtime, tmp_path: Path
) -> None:
    rt, eid, log, gate = await _start_held(workspace, database_url, tmp_path)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await rt.close(grace=0.5)
    assert loop.time() - began < 10
    assert (await runtime.run_result(eid))["status"] == "running"  # interrupted, not ended
    gate.write_text("open")
    assert await runtime.resume_unfinished(eid) == [eid]  # its owner is gone: taken over
    assert (await runtime.wait(eid, 30))["status"] == "succeeded"
