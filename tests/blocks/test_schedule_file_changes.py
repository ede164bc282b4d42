"""A tick runs the schedule that was planned, from the file that declares it.

The scheduler found a tick's workflow again by its ``name:``, which a lookup reads as
a file name first: a file ``reports.yaml`` titled ``name: cleanup`` had its ticks run
``cleanup.yaml``, another workflow altogether (a manual-only one, in full). And a
schedule block removed or re-timed in the file between the last rescan (every 10 s)
and its tick still fired the tick, running the edited workflow from its other
triggers, or at a time the new cron never names.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from blocks.schedule import Scheduler

SCHEDULED = """
name: TITLE
blocks:
  tick:
    type: schedule
    cron: "CRON"
    catch_up: CATCH_UP
  work:
    type: function
    code: |
      return {"file": "FILE"}
edges: [tick -> work]
"""
BY_HAND = """
name: TITLE
blocks:
  start:
    type: manual
  work:
    type: function
    code: |
      return {"file": "FILE"}
edges: [start -> work]
"""


@pytest.fixture
def write(blocks_workflows: Path) -> Iterator[Any]:
    """Write a workflow file of the runtime's folder (removed after the test)."""
    written: list[Path] = []

    def put(stem: str, text: str, **values: str) -> None:
        for key, value in {"FILE": stem, **values}.items():
            text = text.replace(key, value)
        path = blocks_workflows / f"{stem}.yaml"
        path.write_text(text)
        written.append(path)

    yield put
    for path in written:
        path.unlink(missing_ok=True)


def _stem() -> str:
    return f"wf_{uuid.uuid4().hex[:10]}"


def _scheduler(runtime: Any, title: str, now: dt.datetime) -> Scheduler:
    scheduler = Scheduler(runtime)
    scheduler.rescan(now)
    for key in [k for k in scheduler.entries if k[0] != title]:
        del scheduler.entries[key]  # the folder is shared with other tests
    assert list(scheduler.entries) == [(title, "tick")]
    return scheduler


async def _runs(runtime: Any, *workflows: str) -> list[dict[str, Any]]:
    rows = await runtime.db.pool.fetch(
        "SELECT workflow, trigger FROM flowyard_runs WHERE workflow = ANY($1::text[])",
        list(workflows),
    )
    return [dict(r) for r in rows]


async def test_a_tick_runs_its_own_file_when_its_title_is_another_files_name(
    blocks_runtime: Any, write: Any
) -> None:
    reports, cleanup = _stem(), _stem()
    # reports.yaml is titled like the file cleanup.yaml, a workflow run by hand only.
    write(cleanup, BY_HAND, TITLE=f"{cleanup} by hand")
    write(reports, SCHEDULED, TITLE=cleanup, CRON="* * * * *", CATCH_UP="true")
    now = dt.datetime(2031, 5, 6, 7, 8, 30, tzinfo=dt.UTC)
    scheduler = _scheduler(blocks_runtime, cleanup, now)

    started = await scheduler.fire_due(now)  # the 07:08 tick, caught up
    assert len(started) == 1
    result = await blocks_runtime.wait(started[0], timeout=30)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"file": reports}
    assert await _runs(blocks_runtime, f"{cleanup} by hand") == []


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda stem: (BY_HAND, {}), id="schedule-replaced-by-a-manual-trigger"),
        pytest.param(lambda stem: (SCHEDULED, {"CRON": "0 2 * * *"}), id="cron-changed"),
    ],
)
async def test_a_schedule_edited_before_its_tick_does_not_fire_it(
    blocks_runtime: Any, write: Any, edit: Any
) -> None:
    stem = _stem()
    write(stem, SCHEDULED, TITLE=stem, CRON="* * * * *", CATCH_UP="false")
    planned = dt.datetime(2031, 5, 6, 7, 8, 30, tzinfo=dt.UTC)
    scheduler = _scheduler(blocks_runtime, stem, planned)

    # Edited a few seconds before 07:09, before the next rescan sees it.
    text, values = edit(stem)
    write(stem, text, **{"TITLE": stem, "CATCH_UP": "false", **values})
    assert await scheduler.fire_due(planned.replace(minute=9, second=0)) == []
    assert await _runs(blocks_runtime, stem) == []

    # The next rescan plans what the file now says: nothing, or its 02:00 tick.
    later = planned.replace(minute=9, second=5)
    scheduler.rescan(later)
    assert await scheduler.fire_due(later.replace(minute=10, second=0)) == []
    due = [e.next_due for k, e in scheduler.entries.items() if k[0] == stem]
    assert due in ([], [dt.datetime(2031, 5, 7, 2, 0, tzinfo=dt.UTC)])


async def test_a_scheduled_file_renamed_while_serving_keeps_its_ticks(
    blocks_runtime: Any, blocks_workflows: Path, write: Any
) -> None:
    """`git mv nightly.yaml reports.yaml`, the `name:` kept: the same schedule."""
    old, new = _stem(), _stem()
    write(old, SCHEDULED, TITLE=old, CRON="* * * * *", CATCH_UP="false")
    planned = dt.datetime(2031, 5, 6, 7, 8, 30, tzinfo=dt.UTC)
    scheduler = _scheduler(blocks_runtime, old, planned)
    (blocks_workflows / f"{old}.yaml").rename(blocks_workflows / f"{new}.yaml")
    (blocks_workflows / f"{new}.yaml").write_text(
        (blocks_workflows / f"{new}.yaml")
        .read_text()
        .replace(f'"file": "{old}"', f'"file": "{new}"')
    )
    scheduler.rescan(planned.replace(second=40))
    try:
        started = await scheduler.fire_due(planned.replace(minute=9, second=0))
        assert len(started) == 1
        result = await blocks_runtime.wait(started[0], timeout=30)
        assert result["output"] == {"file": new}
    finally:
        (blocks_workflows / f"{new}.yaml").unlink(missing_ok=True)


async def test_a_schedule_whose_input_is_edited_before_its_tick_fires_it_with_the_new_input(
    blocks_runtime: Any, write: Any
) -> None:
    """Only when it fires decides whether the tick is still the schedule's: an edit
    of its `input` a few seconds before a daily tick dropped that day's run."""
    stem = _stem()
    with_input = SCHEDULED.replace(
        "    catch_up: CATCH_UP\n", '    catch_up: CATCH_UP\n    input: {report: "INPUT"}\n'
    )
    with_input = with_input.replace('return {"file": "FILE"}', 'return {"report": <input.report>}')
    write(stem, with_input, TITLE=stem, CRON="* * * * *", CATCH_UP="false", INPUT="old")
    planned = dt.datetime(2031, 5, 6, 7, 8, 30, tzinfo=dt.UTC)
    scheduler = _scheduler(blocks_runtime, stem, planned)
    write(stem, with_input, TITLE=stem, CRON="* * * * *", CATCH_UP="false", INPUT="new")
    started = await scheduler.fire_due(planned.replace(minute=9, second=0))
    assert len(started) == 1
    result = await blocks_runtime.wait(started[0], timeout=30)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"report": "new"}


async def test_a_tick_due_while_its_file_does_not_load_runs_once_it_loads_again(
    blocks_runtime: Any, blocks_workflows: Path, write: Any
) -> None:
    """A typo pushed at 01:55 and fixed at 02:10 (a file that does not load while
    serving): its webhooks answered 503 and their deliveries came once it was fixed,
    but the rescan that found it broken dropped its schedule, and the one that found it
    fixed planned the next tick only — that night's 02:00 run never happened."""
    stem = _stem()
    write(stem, SCHEDULED, TITLE=stem, CRON="* * * * *", CATCH_UP="false")
    planned = dt.datetime(2031, 5, 6, 7, 8, 30, tzinfo=dt.UTC)
    scheduler = _scheduler(blocks_runtime, stem, planned)
    path = blocks_workflows / f"{stem}.yaml"
    good = path.read_text()
    path.write_text(good.replace("type: function", "type: functoin"))  # broken
    scheduler.rescan(planned.replace(second=45))
    assert await scheduler.fire_due(planned.replace(minute=9, second=0)) == []  # it waits
    assert await _runs(blocks_runtime, stem) == []

    path.write_text(good)  # fixed
    scheduler.rescan(planned.replace(minute=9, second=20))
    started = await scheduler.fire_due(planned.replace(minute=9, second=21))
    assert len(started) == 1
    result = await blocks_runtime.wait(started[0], timeout=30)
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["tick"]["output"]["scheduled_for"] == "2031-05-06T07:09:00+00:00"
