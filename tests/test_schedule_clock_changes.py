"""Schedules across clock changes: daylight-saving transitions must not run a daily job twice or skip
it, and a cron expression must have the five fields the docs promise.

"Now" is injected into the Scheduler, so no test waits for a real tick."""

from __future__ import annotations

import datetime as dt
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from blocks.schedule import Scheduler, tick_key
from engine.model import Workflow, WorkflowError
from engine.runtime import Runtime

# 02:30 in Berlin: on 2030-10-27 the clocks go back from 03:00 CEST to 02:00 CET,
# so 02:30 happens twice (00:30 and 01:30 UTC).
DAILY_0230 = """
version: 1
name: NAME
blocks:
  tick:
    type: schedule
    cron: "30 2 * * *"
    timezone: Europe/Berlin
    catch_up: CATCH_UP
  work:
    type: function
    code: |
      return {"at": input.tick.scheduled_for}
edges: [tick -> work]
"""

UTC = dt.UTC


@pytest.fixture
def install(runtime: Runtime) -> Iterator[Callable[..., Workflow]]:
    """Write a workflow into the runtime's folder, where the scheduler finds it."""
    written: list[Path] = []

    def write(text: str, catch_up: bool = False) -> Workflow:
        name = f"wf_sched_{uuid.uuid4().hex[:10]}"
        path = runtime.workflow_path(name)
        body = text.replace("NAME", name).replace("CATCH_UP", str(catch_up).lower())
        path.write_text(textwrap.dedent(body))
        written.append(path)
        return runtime.load_workflow(name)

    yield write
    for path in written:
        path.unlink(missing_ok=True)


def _scheduler(runtime: Runtime, workflow: str, now: dt.datetime) -> Scheduler:
    """A scheduler that started at ``now`` and sees only this test's workflow."""
    scheduler = Scheduler(runtime)
    scheduler.rescan(now)
    for key in [k for k in scheduler.entries if k[0] != workflow]:
        del scheduler.entries[key]
    return scheduler


async def _keys(runtime: Runtime, workflow: str) -> list[str]:
    rows = await runtime.db.pool.fetch(
        "SELECT idempotency_key FROM flowyard_runs WHERE workflow = $1 ORDER BY created_at",
        workflow,
    )
    return [r["idempotency_key"] for r in rows]


async def _finish(runtime: Runtime, started: list[str]) -> None:
    for eid in started:
        result = await runtime.wait(eid, timeout=30)
        assert result["status"] == "succeeded", result["error"]


async def test_daily_job_runs_once_when_the_clocks_fall_back(
    runtime: Runtime, install: Callable[..., Workflow]
) -> None:
    wf = install(DAILY_0230)
    scheduler = _scheduler(runtime, wf.name, dt.datetime(2030, 10, 26, 12, 0, tzinfo=UTC))
    started: list[str] = []
    # Past the first 02:30 (CEST), past the repeated 02:30 (CET), and later that night.
    for hour, minute in ((0, 31), (1, 31), (2, 31)):
        started += await scheduler.fire_due(dt.datetime(2030, 10, 27, hour, minute, tzinfo=UTC))
    await _finish(runtime, started)
    assert await _keys(runtime, wf.name) == [
        tick_key(wf.name, dt.datetime(2030, 10, 27, 0, 30, tzinfo=UTC))
    ]


async def test_catch_up_in_the_repeated_hour_runs_that_days_tick(
    runtime: Runtime, install: Callable[..., Workflow]
) -> None:
    # Down from 23:00 UTC; back at 01:15 UTC (02:15 CET, the second 02:xx hour),
    # after the day's 02:30 CEST tick (00:30 UTC) was missed.
    wf = install(DAILY_0230, catch_up=True)
    scheduler = _scheduler(runtime, wf.name, dt.datetime(2030, 10, 27, 1, 15, tzinfo=UTC))
    started = await scheduler.fire_due(dt.datetime(2030, 10, 27, 1, 15, tzinfo=UTC))
    await _finish(runtime, started)
    assert await _keys(runtime, wf.name) == [
        tick_key(wf.name, dt.datetime(2030, 10, 27, 0, 30, tzinfo=UTC))
    ]


async def test_spring_forward_runs_the_missing_time_once_after_the_jump(
    runtime: Runtime, install: Callable[..., Workflow]
) -> None:
    # 2030-03-31: 02:00 CET jumps to 03:00 CEST, so 02:30 does not exist that day.
    wf = install(DAILY_0230)
    scheduler = _scheduler(runtime, wf.name, dt.datetime(2030, 3, 30, 12, 0, tzinfo=UTC))
    started: list[str] = []
    for hour in (0, 1, 2, 3):
        started += await scheduler.fire_due(dt.datetime(2030, 3, 31, hour, 45, tzinfo=UTC))
    await _finish(runtime, started)
    assert len(started) == 1
    result = await runtime.wait(started[0], timeout=30)
    assert result["output"] == {"at": "2030-03-31T03:00:00+02:00"}


@pytest.mark.parametrize("cron", ["0 0 2 * * *", "* * * * * *", "30 2 * * * * *"])
def test_cron_with_a_seconds_or_year_field_is_a_validation_error(
    write_workflow: Callable[..., Any], cron: str
) -> None:
    # croniter reads a sixth field as seconds: "0 0 2 * * *" would run every second
    # of 00:00 on the 2nd. The docs promise five fields; validation must hold to it.
    text = DAILY_0230.replace('"30 2 * * *"', f'"{cron}"').replace("CATCH_UP", "false")
    with pytest.raises(WorkflowError) as info:
        write_workflow(text.replace("NAME", "sched_six_fields"))
    assert "tick" in str(info.value) and "cron" in str(info.value)


@pytest.mark.parametrize(
    "cron", ["@hourly", "@HOURLY", "0 0-23 * * *", "0 0/1 * * *", "0 0-23/1 * * *"]
)
async def test_an_hourly_job_runs_in_both_copies_of_the_repeated_hour(
    runtime: Runtime, install: Callable[..., Workflow], cron: str
) -> None:
    # Every hour however it is spelt (croniter takes an alias in any case, a range
    # over the whole day): the 02:00 CET tick, the hour after 02:00 CEST, was lost.
    wf = install(DAILY_0230.replace('"30 2 * * *"', f'"{cron}"'))
    scheduler = _scheduler(runtime, wf.name, dt.datetime(2030, 10, 26, 23, 30, tzinfo=UTC))
    started: list[str] = []
    for hour in (0, 1, 2):
        started += await scheduler.fire_due(dt.datetime(2030, 10, 27, hour, 1, tzinfo=UTC))
    await _finish(runtime, started)
    assert await _keys(runtime, wf.name) == [
        tick_key(wf.name, dt.datetime(2030, 10, 27, hour, 0, tzinfo=UTC)) for hour in (0, 1, 2)
    ]
