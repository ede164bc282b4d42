"""A workflow with several trigger blocks: a run starts from the one that fired.

Two schedule blocks whose ticks coincided lost one tick (both were submitted under
the key ``schedule:<workflow>:<tick>``: the second found the key taken after its
last-tick row had moved, so its tick was gone for good), and every run executed
every trigger's branch. Now each tick runs, each with its block's input, and the
other trigger blocks of the workflow are skipped, with what only they lead to."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from blocks.schedule import Scheduler, tick_key
from blocks.webhook import accept
from engine.triggers import NoTriggerChosen

UTC = dt.UTC

TWO_SCHEDULES = """
name: NAME
blocks:
  every1:
    type: schedule
    cron: "* * * * *"
    input: {period: one}
    catch_up: CATCH_UP
  every2:
    type: schedule
    cron: "*/2 * * * *"
    input: {period: two}
    catch_up: CATCH_UP
  f1:
    type: function
    code: |
      return {"branch": "f1", "period": input.period, "at": input.every1.scheduled_for}
  f2:
    type: function
    code: |
      return {"branch": "f2", "period": input.period, "at": input.every2.scheduled_for}
edges: [every1 -> f1, every2 -> f2]
"""

#: A manual trigger and a schedule leading into one block, and one branch each.
MANUAL_AND_SCHEDULE = """
name: NAME
blocks:
  nightly:
    type: schedule
    cron: "0 2 * * *"
    input: {source: schedule}
    catch_up: false
  start: {type: manual}
  by_tick: {type: function, code: "return {'branch': 'tick'}"}
  by_hand: {type: function, code: "return {'branch': 'hand'}"}
  both: {type: function, code: "return {'source': input.source}"}
edges: [nightly -> by_tick, start -> by_hand, nightly -> both, start -> both]
"""

#: The report's two.yaml: a schedule declared before a manual trigger with an input_schema.
SCHEDULE_THEN_TYPED_MANUAL = """
name: NAME
blocks:
  tick: {type: schedule, cron: "0 2 * * *", catch_up: false}
  start:
    type: manual
    input_schema: {type: object, required: [x]}
  work: {type: function, code: "return {'at': input.tick.scheduled_for}"}
edges: [tick -> work]
"""

WEBHOOK_AND_SCHEDULE = """
name: NAME
blocks:
  nightly: {type: schedule, cron: "0 2 * * *", catch_up: false}
  hook: {type: webhook, path: test/NAME}
  from_tick: {type: function, code: "return {'branch': 'tick'}"}
  from_hook: {type: function, code: "return {'branch': 'hook', 'order': input.hook.body.order}"}
edges: [nightly -> from_tick, hook -> from_hook]
"""


def _scheduler(runtime: Any, workflow: str, now: dt.datetime) -> Scheduler:
    """A scheduler that started at ``now`` and sees only this test's workflow."""
    scheduler = Scheduler(runtime)
    scheduler.rescan(now)
    for key in [k for k in scheduler.entries if k[0] != workflow]:
        del scheduler.entries[key]  # the folder is shared with other tests
    return scheduler


def _statuses(result: dict[str, Any]) -> dict[str, str]:
    return {block: record["status"] for block, record in result["blocks"].items()}


async def test_coinciding_ticks_of_two_schedules_each_run_their_own_branch(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(TWO_SCHEDULES.replace("CATCH_UP", "false"))
    scheduler = _scheduler(blocks_runtime, wf.name, dt.datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC))
    started = await scheduler.fire_due(dt.datetime(2030, 1, 1, 12, 1, 30, tzinfo=UTC))  # every1
    started += await scheduler.fire_due(dt.datetime(2030, 1, 1, 12, 2, 30, tzinfo=UTC))  # both
    results = [await blocks_runtime.wait(eid, timeout=30) for eid in started]
    assert [r["status"] for r in results] == ["succeeded"] * 3, [r["error"] for r in results]
    outputs = sorted((r["output"] for r in results), key=lambda o: (o["at"], o["branch"]))
    assert outputs == [
        {"branch": "f1", "period": "one", "at": "2030-01-01T12:01:00+00:00"},
        {"branch": "f1", "period": "one", "at": "2030-01-01T12:02:00+00:00"},
        {"branch": "f2", "period": "two", "at": "2030-01-01T12:02:00+00:00"},
    ]
    for result in results:  # the other trigger and its branch were skipped
        ran = result["output"]["branch"]
        other = {"f1": ("every2", "f2"), "f2": ("every1", "f1")}[ran]
        assert [_statuses(result)[b] for b in other] == ["skipped", "skipped"], result["blocks"]

    # Each block's last tick names a run that exists, its own.
    rows = await blocks_runtime.db.pool.fetch(
        "SELECT t.block, r.trigger_block, r.idempotency_key FROM flowyard_schedule_ticks t"
        " JOIN flowyard_runs r USING (execution_id) WHERE t.workflow = $1 ORDER BY t.block",
        wf.name,
    )
    noon_two = dt.datetime(2030, 1, 1, 12, 2, tzinfo=UTC)
    assert [tuple(r) for r in rows] == [
        # The first schedule block keeps the key of every earlier version.
        ("every1", "every1", tick_key(wf.name, noon_two)),
        ("every2", "every2", tick_key(wf.name, noon_two, "every2")),
    ]
    assert tick_key(wf.name, noon_two) == f"schedule:{wf.name}:2030-01-01T12:02:00+00:00"
    assert tick_key(wf.name, noon_two, "every2") == (
        f"schedule:{wf.name}:every2:2030-01-01T12:02:00+00:00"
    )


async def test_a_tick_accepted_before_the_upgrade_does_not_run_again(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    # A version without the last-tick rows accepted the 12:00 tick under the key
    # `schedule:<workflow>:<tick>`: the first schedule block still finds it taken.
    wf = install_workflow(TWO_SCHEDULES.replace("CATCH_UP", "true"))
    noon = dt.datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    old = await blocks_runtime.submit(
        wf,
        {"period": "one"},
        trigger="schedule",
        idempotency_key=f"schedule:{wf.name}:{noon.isoformat()}",
    )
    await blocks_runtime.wait(old.execution_id, timeout=30)
    # Such a run names no trigger block: the upgrade to schema version 8 leaves its
    # key without a scope, to be matched by its trigger (engine/_key_scopes.py).
    await blocks_runtime.db.pool.execute(
        "UPDATE flowyard_runs SET key_scope = NULL, trigger_block = NULL"
        " WHERE execution_id = $1::uuid",
        old.execution_id,
    )
    # The first start of the new version catches up the 12:00 tick of both blocks
    # (the workflow's file is older than the tick).
    scheduler = _scheduler(blocks_runtime, wf.name, noon + dt.timedelta(seconds=30))
    started = await scheduler.fire_due(noon + dt.timedelta(seconds=30))
    assert len(started) == 1  # every2's tick; every1's ran before the upgrade
    result = await blocks_runtime.wait(started[0], timeout=30)
    assert result["output"]["branch"] == "f2"


async def test_a_run_by_hand_starts_from_the_manual_trigger(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(MANUAL_AND_SCHEDULE)
    by_hand = await blocks_runtime.execute(wf, {"source": "hand"})
    assert by_hand["status"] == "succeeded", by_hand["error"]
    assert _statuses(by_hand) == {
        "nightly": "skipped",
        "start": "succeeded",
        "by_tick": "skipped",
        "by_hand": "succeeded",
        "both": "succeeded",
    }
    # the schedule's input is not merged in: the run did not start from it
    assert by_hand["blocks"]["both"]["output"] == {"source": "hand"}

    scheduler = _scheduler(blocks_runtime, wf.name, dt.datetime(2030, 1, 1, 1, 0, tzinfo=UTC))
    [eid] = await scheduler.fire_due(dt.datetime(2030, 1, 1, 2, 0, 1, tzinfo=UTC))
    ticked = await blocks_runtime.wait(eid, timeout=30)
    assert ticked["status"] == "succeeded", ticked["error"]
    assert _statuses(ticked) == {
        "nightly": "succeeded",
        "start": "skipped",
        "by_tick": "succeeded",
        "by_hand": "skipped",
        "both": "succeeded",
    }
    assert ticked["blocks"]["both"]["output"] == {"source": "schedule"}


async def test_a_run_by_hand_of_several_triggers_without_a_manual_one_is_refused(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(TWO_SCHEDULES.replace("CATCH_UP", "false"))
    with pytest.raises(NoTriggerChosen, match="every1, every2"):
        await blocks_runtime.submit(wf, {})
    count = "SELECT count(*) FROM flowyard_runs WHERE workflow = $1"
    assert await blocks_runtime.db.pool.fetchval(count, wf.name) == 0


async def test_a_delivery_runs_the_webhook_branch_and_a_tick_the_schedules(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(WEBHOOK_AND_SCHEDULE)
    body = json.dumps({"order": "o-7"}).encode()
    headers = {"Content-Type": "application/json"}
    response = await accept(blocks_runtime, f"test/{wf.name}", "POST", headers, {}, body)
    assert response.status == 202, response.body
    delivered = await blocks_runtime.wait(response.body["execution_id"], timeout=30)
    assert delivered["output"] == {"branch": "hook", "order": "o-7"}
    assert _statuses(delivered)["nightly"] == _statuses(delivered)["from_tick"] == "skipped"

    scheduler = _scheduler(blocks_runtime, wf.name, dt.datetime(2030, 1, 1, 1, 0, tzinfo=UTC))
    [eid] = await scheduler.fire_due(dt.datetime(2030, 1, 1, 2, 0, 1, tzinfo=UTC))
    ticked = await blocks_runtime.wait(eid, timeout=30)
    assert ticked["output"] == {"branch": "tick"}
    assert _statuses(ticked)["hook"] == _statuses(ticked)["from_hook"] == "skipped"

    # A re-run of every block runs the branch its run started from.
    again = await blocks_runtime.wait(
        (await blocks_runtime.rerun(eid, from_failed=False)).execution_id, timeout=30
    )
    assert again["output"] == {"branch": "tick"}
    assert _statuses(again)["hook"] == _statuses(again)["from_hook"] == "skipped"


async def test_a_tick_does_not_go_through_the_manual_triggers_input_schema(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    # Every tick failed "input does not match input_schema": the manual trigger ran too.
    wf = install_workflow(SCHEDULE_THEN_TYPED_MANUAL)
    scheduler = _scheduler(blocks_runtime, wf.name, dt.datetime(2030, 1, 1, 1, 0, tzinfo=UTC))
    [eid] = await scheduler.fire_due(dt.datetime(2030, 1, 1, 2, 0, 1, tzinfo=UTC))
    ticked = await blocks_runtime.wait(eid, timeout=30)
    assert ticked["status"] == "succeeded", ticked["error"]
    assert ticked["output"] == {"at": "2030-01-01T02:00:00+00:00"}
    assert _statuses(ticked)["start"] == "skipped"
