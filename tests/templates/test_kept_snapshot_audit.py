"""What ``from_start`` and ``repair`` audit in the kept snapshots
(``order_snapshot_history``), and what time travel starts from.

Black-box report: a kept snapshot whose ``last_event_at`` was wrong made time
travel fold events past ``as_of``, and neither ``from_start`` nor ``repair``
found it (they compared kept snapshots by state only); a wrong
``last_event_sequence`` was not found either. And at any point short of the
head, ``from_start`` and ``repair`` skipped the kept-snapshot audit altogether:
a tampered kept snapshot at or before the point passed as consistent."""

from __future__ import annotations

import uuid
from typing import Any

from es_support import SNAPSHOT_EVERY, calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

#: Kept snapshots at SNAPSHOT_EVERY and 2 * SNAPSHOT_EVERY, and events after them.
EVENTS = 2 * SNAPSHOT_EVERY + 5
KEPT_COLUMNS = (
    "SELECT version, last_event_sequence, last_event_at FROM order_snapshot_history"
    " WHERE order_id = $1 ORDER BY version"
)
EVENT_COLUMNS = (
    "SELECT aggregate_version, sequence_number, created_at FROM events"
    " WHERE aggregate_type = 'order' AND aggregate_id = $1 AND aggregate_version = ANY($2)"
    " ORDER BY aggregate_version"
)


async def replay(rt: Any, **input: Any) -> dict[str, Any]:
    result = await rt.execute(rt.load_workflow("replay_events"), input)
    assert result["status"] == "succeeded", result["error"]
    return result["output"]


async def long_order(rt: Any, httpserver: HTTPServer) -> str:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0])
    for i in range(EVENTS - 1):
        await deliver(rt, {"event_type": "item_added", "order_id": order, "sku": f"S{i}"})
    return order


async def created_at(rt: Any, order: str, version: int) -> str:
    at = await rt.db.pool.fetchval(
        "SELECT created_at FROM events WHERE aggregate_type = 'order' AND aggregate_id = $1"
        " AND aggregate_version = $2",
        order,
        version,
    )
    return at.isoformat()


async def kept_point_at_their_events(rt: Any, order: str) -> bool:
    pool = rt.db.pool
    kept = [tuple(r) for r in await pool.fetch(KEPT_COLUMNS, order)]
    events = [tuple(r) for r in await pool.fetch(EVENT_COLUMNS, order, [k[0] for k in kept])]
    return kept == events


async def test_a_kept_snapshot_with_a_wrong_last_event_at_is_audited_and_not_started_from(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    rt = es_runtime
    order = await long_order(rt, httpserver)
    later = 2 * SNAPSHOT_EVERY
    await rt.db.pool.execute(
        "UPDATE order_snapshot_history SET last_event_at = last_event_at - interval '1 hour'"
        " WHERE order_id = $1 AND version = $2",
        order,
        later,
    )
    point = SNAPSHOT_EVERY + 2
    past = await replay(rt, order_id=order, as_of=await created_at(rt, order, point))
    assert past["events"] == point and past["from_version"] == SNAPSHOT_EVERY
    assert len(past["state"]["items"]) == point

    audit = await replay(rt, order_id=order, from_start=True)
    assert audit["consistent"] is False and audit["kept_mismatches"] == [later]
    fixed = await replay(rt, order_id=order, repair=True)
    assert fixed["repaired"] is True and fixed["kept_mismatches"] == [later]
    assert await kept_point_at_their_events(rt, order)
    again = await replay(rt, order_id=order, from_start=True)
    assert again["consistent"] is True and again["kept_mismatches"] == []
    head = await replay(rt, order_id=order)
    assert head["from_version"] == later and head["consistent"] is True


async def test_a_kept_snapshot_with_a_wrong_last_event_sequence_is_audited_and_repaired(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    rt = es_runtime
    order = await long_order(rt, httpserver)
    await rt.db.pool.execute(
        "UPDATE order_snapshot_history SET last_event_sequence = last_event_sequence + 1"
        " WHERE order_id = $1 AND version = $2",
        order,
        SNAPSHOT_EVERY,
    )
    point = SNAPSHOT_EVERY + 3
    past = await replay(rt, order_id=order, version=point)  # not started from it
    assert past["events"] == point and past["from_version"] is None
    audit = await replay(rt, order_id=order, from_start=True)
    assert audit["consistent"] is False and audit["kept_mismatches"] == [SNAPSHOT_EVERY]
    fixed = await replay(rt, order_id=order, repair=True)
    assert fixed["repaired"] is True
    assert await kept_point_at_their_events(rt, order)
    assert (await replay(rt, order_id=order, version=point))["from_version"] == SNAPSHOT_EVERY


async def test_the_agent_replay_does_not_start_from_a_kept_snapshot_naming_another_event(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    rt = agent_workflows
    order = await long_order(rt, httpserver)
    await rt.db.pool.execute(
        "UPDATE order_snapshot_history SET last_event_at = last_event_at - interval '1 hour'"
        " WHERE order_id = $1 AND version = $2",
        order,
        2 * SNAPSHOT_EVERY,
    )
    point = SNAPSHOT_EVERY + 2
    as_of = await created_at(rt, order, point)
    result = await rt.execute(
        rt.load_workflow("replay_events_agent"), {"order_id": order, "as_of": as_of}
    )
    assert result["status"] == "succeeded", result["error"]
    past = result["output"]
    assert past["events"] == point and past["from_version"] == SNAPSHOT_EVERY


async def test_kept_snapshots_the_fold_passed_are_audited_at_a_past_point(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    rt = es_runtime
    order = await long_order(rt, httpserver)
    pool = rt.db.pool
    await pool.execute(
        "UPDATE order_snapshot_history SET state = jsonb_set(state, '{total_cents}', '999999')"
        " WHERE order_id = $1 AND version = $2",
        order,
        SNAPSHOT_EVERY,
    )
    point = SNAPSHOT_EVERY + 5
    for where in ({"version": point}, {"as_of": await created_at(rt, order, point)}):
        audit = await replay(rt, order_id=order, from_start=True, **where)
        assert audit["checked"] is False and audit["events"] == point
        assert audit["consistent"] is False and audit["kept_mismatches"] == [SNAPSHOT_EVERY]
    # The kept snapshot past the point is not judged there (the fold did not reach it).
    before = await replay(rt, order_id=order, from_start=True, version=SNAPSHOT_EVERY - 1)
    assert before["consistent"] is True and before["kept_mismatches"] == []

    fixed = await replay(rt, order_id=order, repair=True, version=point)
    assert fixed["repaired"] is True and fixed["kept_mismatches"] == [SNAPSHOT_EVERY]
    total = await pool.fetchval(
        "SELECT (state->>'total_cents')::int FROM order_snapshot_history"
        " WHERE order_id = $1 AND version = $2",
        order,
        SNAPSHOT_EVERY,
    )
    assert total == 1250
    recorded = await pool.fetchrow(
        "SELECT consistent, repaired, replayed_version, snapshot_version FROM consistency_checks"
        " WHERE id = $1",
        fixed["check_id"],
    )
    assert tuple(recorded) == (False, True, point, None)
    texts = [r.get_json()["text"] for r in calls(httpserver, "/slack/hook")]
    said = [t for t in texts if order in t and f"Check id {fixed['check_id']}" in t]
    assert said == [
        f":warning: Order {order}: kept snapshots {SNAPSHOT_EVERY} do not match their events."
        f" Repaired: true. Check id {fixed['check_id']}."
    ]
    audit = await replay(rt, order_id=order, from_start=True)
    assert audit["consistent"] is True and audit["kept_mismatches"] == []
