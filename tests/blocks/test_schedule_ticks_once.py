"""A schedule tick runs once whatever retention deletes: the tick's idempotency key
lives in its run's row, so once retention pruned that run a catch-up on the next
start submitted the tick again (a second POST, with a new Idempotency-Key)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from standins import RecordingServer

from blocks.schedule import Scheduler
from engine.retention import prune

MONTHLY = """
name: NAME
blocks:
  monthly:
    type: schedule
    cron: "0 0 1 * *"
  bill:
    type: http
    method: POST
    url: "URL/bill"
    json: {for: "<monthly.scheduled_for>"}
edges: [monthly -> bill]
"""
DAY_S = 86400.0


async def _restart_and_catch_up(runtime: Any, workflow: str, now: dt.datetime) -> list[str]:
    """What a new `serve` does first: scan the schedules and submit the missed tick."""
    scheduler = Scheduler(runtime)
    scheduler.rescan(now)
    for key in [k for k in scheduler.entries if k[0] != workflow]:
        del scheduler.entries[key]  # the folder is shared with other tests
    started = await scheduler.fire_due(now)
    for eid in started:
        await runtime.wait(eid, timeout=30)
    return started


async def _age_and_prune(runtime: Any, workflow: str, days: int) -> int:
    """Make the workflow's runs ``days`` old, then prune as the default 30 d would."""
    await runtime.db.log_pool.execute(
        "UPDATE flowyard_runs SET finished_at = finished_at - make_interval(days => $2),"
        " created_at = created_at - make_interval(days => $2) WHERE workflow = $1",
        workflow,
        days,
    )
    runs, _ = await prune(runtime.db.log_pool, 30 * DAY_S)
    return runs


async def test_a_tick_whose_run_was_pruned_is_not_run_again(
    blocks_runtime: Any, install_workflow: Any, recorder: RecordingServer
) -> None:
    wf = install_workflow(MONTHLY.replace("URL", recorder.url))
    # Started on 15 November: the 1 November tick was missed and is caught up.
    now = dt.datetime(2040, 11, 15, 9, 0, tzinfo=dt.UTC)
    assert len(await _restart_and_catch_up(blocks_runtime, wf.name, now)) == 1
    assert [r.json for r in recorder.requests] == [{"for": "2040-11-01T00:00:00+00:00"}]

    assert await _age_and_prune(blocks_runtime, wf.name, 31) >= 1
    assert await blocks_runtime.list_runs(wf.name) == []  # the run and its key are gone
    for _ in range(2):  # every later start, too
        assert await _restart_and_catch_up(blocks_runtime, wf.name, now) == []
    assert len(recorder.requests) == 1

    # The schedule goes on: the next tick runs, once.
    december = dt.datetime(2040, 12, 1, 0, 0, 30, tzinfo=dt.UTC)
    assert len(await _restart_and_catch_up(blocks_runtime, wf.name, december)) == 1
    assert await _restart_and_catch_up(blocks_runtime, wf.name, december) == []
    assert [r.json["for"] for r in recorder.requests] == [
        "2040-11-01T00:00:00+00:00",
        "2040-12-01T00:00:00+00:00",
    ]


async def test_processes_racing_for_a_pruned_tick_submit_nothing(
    blocks_runtime: Any, install_workflow: Any, recorder: RecordingServer
) -> None:
    """Two processes starting at once, on one database, after the prune."""
    wf = install_workflow(MONTHLY.replace("URL", recorder.url))
    now = dt.datetime(2041, 3, 2, tzinfo=dt.UTC)
    assert len(await _restart_and_catch_up(blocks_runtime, wf.name, now)) == 1
    await _age_and_prune(blocks_runtime, wf.name, 31)
    both = await asyncio.gather(
        *(_restart_and_catch_up(blocks_runtime, wf.name, now) for _ in range(2))
    )
    assert both == [[], []]
    assert len(recorder.requests) == 1
