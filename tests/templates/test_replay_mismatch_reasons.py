"""An inconsistent replay says what differs between the snapshot and its events.

Black-box report: with only `order_snapshots.last_event_id` changed, or only
`last_event_at` shifted by a second, a replay said `consistent: false` with
`state == snapshot_state` and equal versions, and Slack was told the generic "does
not match its events": nobody could tell what to look at. The output's `reasons`
and the alert now name the column, the state's keys, or the versions that differ,
in Replay Events and in its Agent variant (whose model's state is the replay).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from es_support import REPLAYS, calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

#: A change to the live snapshot, and what the verdict must name.
EDITS = {
    "last_event_id": (
        "UPDATE order_snapshots SET last_event_id = gen_random_uuid() WHERE order_id = $1",
        "its last_event_id does not name the event at version 2",
    ),
    "last_event_at": (
        "UPDATE order_snapshots SET last_event_at = last_event_at + interval '1 second'"
        " WHERE order_id = $1",
        "its last_event_at does not name the event at version 2",
    ),
    "lagging": (
        "UPDATE order_snapshots SET version = 1 WHERE order_id = $1",
        "it lags 1 version behind the events",
    ),
    "state": (
        'UPDATE order_snapshots SET state = state || \'{"status": "x", "total_cents": 1}\''
        " WHERE order_id = $1",
        "its state differs from the events' in status, total_cents",
    ),
    "version": (
        "UPDATE order_snapshots SET version = 5 WHERE order_id = $1",
        "it runs 3 versions past the last event",
    ),
}


@pytest.mark.parametrize("template", REPLAYS)
@pytest.mark.parametrize("edit", sorted(EDITS))
async def test_the_verdict_names_what_differs(
    template_rt: Any, httpserver: HTTPServer, edit: str, template: str
) -> None:
    es_runtime = template_rt
    stand_ins(httpserver)
    sql, says = EDITS[edit]
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:2]:
        await deliver(es_runtime, ev)
    await es_runtime.db.pool.execute(sql, order)
    result = await es_runtime.execute(es_runtime.load_workflow(template), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["consistent"] is False
    [reason] = out["reasons"]
    assert reason.startswith("the snapshot (version ") and says in reason, reason
    alert = calls(httpserver, "/slack/hook")[-1].get_json()["text"]
    assert order in alert and says in alert


@pytest.mark.parametrize("template", REPLAYS)
async def test_a_missing_snapshot_is_said_to_be_missing(
    template_rt: Any, httpserver: HTTPServer, template: str
) -> None:
    """The snapshot row deleted: the verdict said `no snapshot does not match its
    events (version 2)`, which reads as "nothing mismatches"."""
    es_runtime = template_rt
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:2]:
        await deliver(es_runtime, ev)
    await es_runtime.db.pool.execute("DELETE FROM order_snapshots WHERE order_id = $1", order)
    result = await es_runtime.execute(es_runtime.load_workflow(template), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["consistent"] is False
    [reason] = out["reasons"]
    assert reason.startswith("the order has no snapshot, but its events run to version 2"), reason
    alert = calls(httpserver, "/slack/hook")[-1].get_json()["text"]
    assert order in alert and "has no snapshot, but its events run to version 2" in alert
