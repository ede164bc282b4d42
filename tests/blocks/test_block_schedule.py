"""Schedule trigger: due ticks, catch-up after downtime (once, not N times), and
exactly-once ticks across several scheduler processes (the idempotency key)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import time
import uuid
from typing import Any

import pytest

from blocks.schedule import Scheduler, previous_tick, run_scheduler, tick_key

EVERY_MINUTE = """
version: 1
name: NAME
blocks:
  tick:
    type: schedule
    cron: "* * * * *"
    timezone: Europe/Berlin
    input: {report: daily}
  work:
    type: function
    code: |
      return {"at": input.tick.scheduled_for, "report": input.report}
edges: [tick -> work]
"""


async def _runs(runtime: Any, workflow: str) -> list[dict[str, Any]]:
    rows = await runtime.db.pool.fetch(
        "SELECT execution_id, idempotency_key, trigger FROM flowyard_runs WHERE workflow = $1 ORDER BY created_at",
        workflow,
    )
    return [dict(r) for r in rows]


def _only(scheduler: Scheduler, workflow: str) -> None:
    """Keep the scheduler to this test's workflow (the folder is shared by tests)."""
    for key in [k for k in scheduler.entries if k[0] != workflow]:
        del scheduler.entries[key]


async def test_missed_tick_runs_once_on_start_and_due_ticks_run(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(EVERY_MINUTE)
    start = dt.datetime(2030, 1, 1, 12, 0, 30, tzinfo=dt.UTC)

    first = Scheduler(blocks_runtime)
    first.rescan(start)
    _only(first, wf.name)
    started = await first.fire_due(start)
    # The 12:00 tick (missed while no scheduler ran) is submitted once on start.
    assert len(started) == 1
    result = await blocks_runtime.wait(started[0], timeout=30)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"at": "2030-01-01T13:00:00+01:00", "report": "daily"}

    # A second process starting at the same moment finds the tick taken.
    second = Scheduler(blocks_runtime)
    second.rescan(start)
    _only(second, wf.name)
    assert await second.fire_due(start) == []

    # Down for five minutes: only the latest due tick runs, not five.
    later = start + dt.timedelta(minutes=5)
    started = await first.fire_due(later)
    assert len(started) == 1
    await blocks_runtime.wait(started[0], timeout=30)
    assert await second.fire_due(later) == []  # the other process: same tick, no new run

    runs = await _runs(blocks_runtime, wf.name)
    assert [r["idempotency_key"] for r in runs] == [
        tick_key(wf.name, dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)),
        tick_key(wf.name, dt.datetime(2030, 1, 1, 12, 5, tzinfo=dt.UTC)),
    ]
    assert {r["trigger"] for r in runs} == {"schedule"}


async def test_workflow_added_while_running_does_not_catch_up(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    now = dt.datetime(2031, 3, 1, 8, 0, 30, tzinfo=dt.UTC)
    scheduler = Scheduler(blocks_runtime)
    scheduler.rescan(now)  # the first scan: whatever exists now may catch up
    scheduler.entries.clear()
    wf = install_workflow(EVERY_MINUTE)
    scheduler.rescan(now)
    _only(scheduler, wf.name)
    assert await scheduler.fire_due(now) == []
    assert len(await scheduler.fire_due(now + dt.timedelta(seconds=30))) == 1


async def test_run_scheduler_loop_submits_and_stops(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(EVERY_MINUTE)
    _written_an_hour_ago(wf)  # a schedule that existed before this start: it catches up
    stop = asyncio.Event()
    task = asyncio.create_task(run_scheduler(blocks_runtime, stop, rescan_every=0.2))
    try:
        for _ in range(100):
            if await _runs(blocks_runtime, wf.name):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    runs = await _runs(blocks_runtime, wf.name)
    tick = previous_tick("* * * * *", dt.UTC, dt.datetime.now(dt.UTC))
    assert runs and runs[0]["idempotency_key"] in {
        tick_key(wf.name, tick),
        tick_key(wf.name, tick - dt.timedelta(minutes=1)),  # the minute turned meanwhile
    }
    for r in runs:
        await blocks_runtime.wait(str(r["execution_id"]), timeout=30)


def _written_an_hour_ago(wf: Any) -> None:
    hour_ago = time.time() - 3600
    os.utime(wf.file, (hour_ago, hour_ago))


async def test_a_schedule_deployed_by_a_restart_does_not_run_a_tick_from_before_it(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    """Catch-up is for a tick missed while no scheduler ran, by a schedule that
    existed then: a file written after that tick waits for its next one."""
    wf = install_workflow(EVERY_MINUTE.replace('"* * * * *"', '"0 3 * * *"'))
    now = dt.datetime.now(dt.UTC)
    scheduler = Scheduler(blocks_runtime)
    scheduler.rescan(now)  # the first scan after a start
    _only(scheduler, wf.name)
    assert await scheduler.fire_due(now) == []
    assert scheduler.entries[(wf.name, "tick")].next_due > now


async def test_one_schedule_without_a_next_tick_does_not_stop_the_others(
    blocks_runtime: Any, install_workflow: Any, caplog: Any
) -> None:
    wf = install_workflow(EVERY_MINUTE)
    start = dt.datetime(2032, 1, 1, 12, 0, 30, tzinfo=dt.UTC)
    scheduler = Scheduler(blocks_runtime)
    scheduler.rescan(start)
    _only(scheduler, wf.name)
    # One that validation would refuse now, planned from an older release's check.
    good = scheduler.entries[(wf.name, "tick")]
    scheduler.entries[("never", "tick")] = dataclasses.replace(
        good, workflow="never", cron="0 0 31 2 *", pending=None, next_due=start
    )
    started = await scheduler.fire_due(start)
    assert len(started) == 1  # the good one's catch-up tick
    assert ("never", "tick") not in scheduler.entries
    assert any("never.tick has no next tick" in r.getMessage() for r in caplog.records)
    await blocks_runtime.wait(started[0], timeout=30)


@pytest.mark.parametrize(
    "cron",
    [
        "5-5 0 * * *",
        "0 9-9 * * *",
        "0 0 * * 1-1",
        "0 0 31 2-2 *",
        # The same value spelt with names, leading zeros, a step or Sunday as 7:
        # croniter reads each as the whole field too (`mon-mon` fired every day).
        "0 0 * * mon-mon",
        "0 0 * * sun-sun",
        "0 0 * * 1-mon",
        "0 0 * * MON-Mon",
        "0 0 * 6-jun *",
        "0 0 * * mon-mon/2",
        "05-5 0 * * *",
        "0 0 * * 7-sun",
        "0 0 * * mon-1,3",
    ],
)
def test_a_range_with_equal_ends_is_refused(tmp_path: Any, cron: str) -> None:
    """croniter reads `5-5` as the whole field (every minute, every hour, …)."""
    from engine.model import WorkflowError, load_file

    file = tmp_path / "same.yaml"
    file.write_text(EVERY_MINUTE.replace("NAME", "same").replace("* * * * *", cron))
    with pytest.raises(WorkflowError) as info:
        load_file(file)
    [problem] = info.value.problems
    assert problem.field == "cron" and "is one value: write" in problem.message


@pytest.mark.parametrize(
    "cron", ["0 0 * * 0-7", "0 0 * * sun-7", "0 0 * * fri-mon", "0 0 * jan-dec *"]
)
def test_a_range_of_several_values_is_kept(tmp_path: Any, cron: str) -> None:
    """`0-7` is the whole week as written (Sunday at both ends, but not one value)."""
    from engine.model import load_file

    file = tmp_path / "ranges.yaml"
    file.write_text(EVERY_MINUTE.replace("NAME", "ranges").replace("* * * * *", cron))
    assert load_file(file).blocks["tick"].config["cron"] == cron


@pytest.mark.parametrize(("cron", "count"), [("0 0 2 * * *", 6), ("0 2 * *", 4)])
def test_a_cron_without_five_fields_says_so(tmp_path: Any, cron: str, count: int) -> None:
    """A Quartz-style six-field expression was only "not a valid cron expression"."""
    from engine.model import WorkflowError, load_file

    file = tmp_path / "fields.yaml"
    file.write_text(EVERY_MINUTE.replace("NAME", "fields").replace("* * * * *", cron))
    with pytest.raises(WorkflowError) as info:
        load_file(file)
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("tick", "cron")
    assert problem.message == (
        f"{cron!r} has {count} fields: a cron expression has five (minute hour day-of-month"
        " month day-of-week); seconds and years are not supported"
    )


def test_a_cron_that_never_fires_is_refused(tmp_path: Any) -> None:
    from engine.model import WorkflowError, load_file

    file = tmp_path / "never.yaml"
    file.write_text(EVERY_MINUTE.replace("NAME", "never").replace("* * * * *", "0 0 31 2 *"))
    with pytest.raises(WorkflowError) as info:
        load_file(file)
    [problem] = info.value.problems
    assert (problem.block, problem.field) == ("tick", "cron")
    assert "never fires" in problem.message


def test_a_reference_in_the_input_is_refused(tmp_path: Any) -> None:
    """`input: {key: <env.API_KEY>}` was stored as its own text in every tick's input:
    nothing resolves the schedule's input, so the value never arrived."""
    from engine.model import WorkflowError, load_file

    file = tmp_path / "refs.yaml"
    given = "{report: daily, key: <env.API_KEY>, at: '<tick.scheduled_for>', cmp: 'x < y > z'}"
    file.write_text(EVERY_MINUTE.replace("NAME", "refs").replace("{report: daily}", given))
    with pytest.raises(WorkflowError) as info:
        load_file(file)
    found = [(p.block, p.field, p.message.split(" is ")[0]) for p in info.value.problems]
    assert found == [
        ("tick", "input", "<env.API_KEY>"),
        ("tick", "input", "<tick.scheduled_for>"),
    ]


def test_the_keys_a_tick_sets_are_refused_in_the_input(tmp_path: Any) -> None:
    """A tick's run input holds `schedule` and `workflow` of its own: the file's values
    for them were overwritten on every tick (and kept in a run by hand), silently."""
    from engine.model import WorkflowError, load_file

    file = tmp_path / "reserved.yaml"
    given = "{schedule: weekly, workflow: payroll, tick: 5}"
    file.write_text(EVERY_MINUTE.replace("NAME", "reserved").replace("{report: daily}", given))
    with pytest.raises(WorkflowError) as info:
        load_file(file)
    found = [(p.block, p.field, p.message) for p in info.value.problems]
    assert found == [
        (
            "tick",
            "input",
            "input key 'schedule' is the tick's own: each tick's run input sets "
            "<input.schedule> to {scheduled_for, cron, timezone}; name yours otherwise",
        ),
        (
            "tick",
            "input",
            "input key 'workflow' is the tick's own: each tick's run input sets "
            "<input.workflow> to {name}; name yours otherwise",
        ),
    ]


async def test_manual_run_of_a_scheduled_workflow(run_yaml: Any) -> None:
    result = await run_yaml(EVERY_MINUTE.replace("NAME", "sched_manual"), {"report": "adhoc"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["report"] == "adhoc" and result["output"]["at"]
    # Without an input, the schedule's own: `flowyard run` of it failed on <input.report>.
    default = await run_yaml(EVERY_MINUTE.replace("NAME", "sched_manual"))
    assert default["status"] == "succeeded", default["error"]
    assert default["output"]["report"] == "daily"


async def test_invalid_cron_and_zone_are_validation_errors(write_workflow: Any) -> None:
    import pytest

    from engine.model import WorkflowError

    bad = EVERY_MINUTE.replace('"* * * * *"', '"every day"').replace(
        "Europe/Berlin", "Mars/Olympus"
    )
    with pytest.raises(WorkflowError) as info:
        write_workflow(bad.replace("NAME", "sched_bad"))
    text = str(info.value)
    assert "cron" in text and "Mars/Olympus" in text


async def test_a_file_whose_name_is_no_workflow_name_schedules_nothing(
    blocks_runtime: Any, blocks_workflows: Any
) -> None:
    """`GET /api/workflows` lists such a file as ignored, not loaded: its schedules ran."""
    name = f"wf_{uuid.uuid4().hex[:10]}"
    copy = blocks_workflows / f"Copy of {name}.yaml"
    copy.write_text(EVERY_MINUTE.replace("NAME", name))
    try:
        scheduler = Scheduler(blocks_runtime)
        scheduler.rescan(dt.datetime(2032, 1, 1, 12, 0, 30, tzinfo=dt.UTC))
        assert [key for key in scheduler.entries if key[0] == name] == []
    finally:
        copy.unlink()
