"""What the scheduler logs when it cannot submit a tick. A failed tick is retried
every second, and each retry logged an ERROR with a full traceback: five schedules
wrote 200 tracebacks in 40 s of a database outage, in every process."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest
from relay import Relay

from blocks._submit_failures import SubmitFailures
from blocks.schedule import Scheduler
from engine.runtime import Runtime

EVERY_MINUTE = """
name: {name}
blocks:
  tick: {{type: schedule, cron: "* * * * *"}}
  work:
    type: function
    code: |
      return {{"at": input.tick.scheduled_for}}
edges: [tick -> work]
"""

START = dt.datetime(2033, 5, 1, 9, 0, 30, tzinfo=dt.UTC)


def _said(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    records = [r for r in caplog.records if r.name == "flowyard.schedule"]
    caplog.clear()
    return records


async def test_a_database_outage_is_said_once_then_once_a_minute_then_its_end(
    relayed_url: tuple[str, str, Relay], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, through, relay = relayed_url
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    for n in range(5):
        name = f"tick{n}_{uuid.uuid4().hex[:8]}"
        (workflows / f"{name}.yaml").write_text(EVERY_MINUTE.format(name=name))
    rt = Runtime(workflows, through, tmp_path, function_workers=1, resume=False)
    await rt.start()
    try:
        clock = [0.0]
        scheduler = Scheduler(rt)
        scheduler.failures = SubmitFailures(clock=lambda: clock[0])
        scheduler.rescan(START)  # the first scan: each schedule catches up its 09:00 tick
        assert sum(1 for e in scheduler.entries.values() if e.pending) == 5
        caplog.set_level(logging.INFO, logger="flowyard.schedule")

        relay.cut()
        for _ in range(3):  # three seconds of retries of five schedules: one line
            clock[0] += 1
            assert await scheduler.fire_due(START) == []
        [first] = _said(caplog)
        assert first.levelno == logging.ERROR and first.exc_info is None
        assert "the database cannot be reached (" in first.getMessage()

        clock[0] += 60  # a minute on: one line for all five
        await scheduler.fire_due(START)
        await scheduler.fire_due(START)
        [still] = _said(caplog)
        assert still.levelno == logging.ERROR and still.exc_info is None
        assert "still cannot be reached after 62 s (5 schedules waiting" in still.getMessage()

        relay.restore()
        started = await scheduler.fire_due(START)
        assert len(started) == 5
        [back] = _said(caplog)
        assert back.levelno == logging.INFO
        assert "the database can be reached again" in back.getMessage()
        for eid in started:
            assert (await rt.wait(eid, timeout=30))["status"] == "succeeded"
    finally:
        await rt.close()


async def test_a_workflow_deleted_before_its_tick_is_one_warning_line(
    blocks_runtime: Any, install_workflow: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Deleted within the 10 s before the rescan drops its schedule: each process
    logged an ERROR traceback (WorkflowError: no workflow named …)."""
    wf = install_workflow(EVERY_MINUTE.format(name="NAME"))
    scheduler = Scheduler(blocks_runtime)
    scheduler.rescan(START)
    for key in [k for k in scheduler.entries if k[0] != wf.name]:
        del scheduler.entries[key]
    Path(wf.file).unlink()
    caplog.set_level(logging.INFO, logger="flowyard.schedule")
    for _ in range(3):
        assert await scheduler.fire_due(START) == []
    [said] = _said(caplog)
    assert said.levelno == logging.WARNING and said.exc_info is None
    assert f"schedule {wf.name}.tick not submitted" in said.getMessage()
    assert "\n" not in said.getMessage(), said.getMessage()
    scheduler.rescan(START)
    assert (wf.name, "tick") not in scheduler.entries  # as the warning says
