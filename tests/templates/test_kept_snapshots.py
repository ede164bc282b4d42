"""Kept snapshots (``order_snapshot_history``) and the repair, end to end.

Black-box report D4: a wrong kept snapshot made the default replay say
"consistent" and time travel answer its state for ever, and ``repair: true``
(which folded from that kept snapshot) put a wrong state back after a
``from_start`` repair had fixed it. D15: a snapshot with no events could not be
repaired, so every new event of the order failed. N5: an order that never
existed was recorded as a passed check."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from es_support import SNAPSHOT_EVERY, calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer


async def replay(rt: Any, **input: Any) -> dict[str, Any]:
    result = await rt.execute(rt.load_workflow("replay_events"), input)
    assert result["status"] == "succeeded", result["error"]
    return result["output"]


async def order_with_a_kept_snapshot(rt: Any, httpserver: HTTPServer) -> str:
    """An order of SNAPSHOT_EVERY + 2 events: one kept snapshot, two events after it."""
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0])
    for i in range(SNAPSHOT_EVERY + 1):
        await deliver(rt, {"event_type": "item_added", "order_id": order, "sku": f"S{i}"})
    return order


async def test_a_wrong_kept_snapshot_is_found_by_from_start_and_repaired_for_good(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    rt = es_runtime
    order = await order_with_a_kept_snapshot(rt, httpserver)
    pool = rt.db.pool
    # What a model (or an older reducer) leaves behind: the kept snapshot and the
    # live one built on it agree with each other, not with the events.
    bogus = "jsonb_set(state, '{total_cents}', '999999')"
    await pool.execute(
        f"UPDATE order_snapshot_history SET state = {bogus} WHERE order_id = $1", order
    )
    await pool.execute(f"UPDATE order_snapshots SET state = {bogus} WHERE order_id = $1", order)
    # A kept snapshot past the last event (events restored from an older backup).
    await pool.execute(
        "INSERT INTO order_snapshot_history (order_id, version, state, last_event_sequence,"
        " last_event_at) SELECT order_id, 50, state, last_event_sequence, last_event_at"
        " FROM order_snapshot_history WHERE order_id = $1",
        order,
    )

    trusting = await replay(rt, order_id=order)  # documented: trusts the kept snapshot
    assert trusting["from_version"] == SNAPSHOT_EVERY and trusting["consistent"] is True
    audit = await replay(rt, order_id=order, from_start=True)
    assert audit["consistent"] is False
    assert audit["kept_mismatches"] == [SNAPSHOT_EVERY, 50]
    assert audit["state"]["total_cents"] == 1250

    fixed = await replay(rt, order_id=order, repair=True)  # no from_start needed
    assert fixed["repaired"] is True and fixed["from_version"] is None
    assert fixed["state"]["total_cents"] == 1250
    kept = await pool.fetch(
        "SELECT version, (state->>'total_cents')::int FROM order_snapshot_history"
        " WHERE order_id = $1 ORDER BY version",
        order,
    )
    assert [tuple(k) for k in kept] == [(SNAPSHOT_EVERY, 1250)]
    live = await pool.fetchval(
        "SELECT (state->>'total_cents')::int FROM order_snapshots WHERE order_id = $1", order
    )
    assert live == 1250
    # Every later replay, a second repair and time travel agree with the events.
    for check in (
        await replay(rt, order_id=order),
        await replay(rt, order_id=order, from_start=True),
        await replay(rt, order_id=order, repair=True),
    ):
        assert check["consistent"] is True and check["state"]["total_cents"] == 1250
    past = await replay(rt, order_id=order, version=SNAPSHOT_EVERY)
    assert past["from_version"] == SNAPSHOT_EVERY and past["state"]["total_cents"] == 1250


async def test_a_tampered_live_snapshot_escapes_the_default_check_once_kept(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """What the default replay covers (docs/event-sourcing.md, "Snapshots"): the
    events since the newest kept snapshot. A hand edit of order_snapshots is caught
    until the live workflow writes a kept snapshot from the edited state; from then
    on only from_start finds it, and names that kept snapshot."""
    rt = es_runtime
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0])
    for i in range(SNAPSHOT_EVERY - 2):  # up to the version before a kept one
        await deliver(rt, {"event_type": "item_added", "order_id": order, "sku": f"S{i}"})
    await rt.db.pool.execute(
        "UPDATE order_snapshots SET state = jsonb_set(state, '{total_cents}', '999999')"
        " WHERE order_id = $1",
        order,
    )
    caught = await replay(rt, order_id=order)
    assert caught["from_version"] is None and caught["consistent"] is False

    await deliver(rt, {"event_type": "item_added", "order_id": order, "sku": "last"})
    trusting = await replay(rt, order_id=order)
    assert trusting["from_version"] == SNAPSHOT_EVERY and trusting["replayed"] == 0
    assert trusting["consistent"] is True  # the documented blind spot
    audit = await replay(rt, order_id=order, from_start=True)
    assert audit["consistent"] is False and audit["kept_mismatches"] == [SNAPSHOT_EVERY]
    assert audit["state"]["total_cents"] == 1250


async def test_the_agent_variant_keeps_no_snapshot_history(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    """A model's state is not kept for replays to start from: the deterministic
    Replay of an agent-built order folds every event with the reducer."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0], path="orders/agent-events")
    for i in range(SNAPSHOT_EVERY):
        item = {"event_type": "item_added", "order_id": order, "sku": f"S{i}"}
        await deliver(rt, item, path="orders/agent-events")
    pool = rt.db.pool
    kept = await pool.fetchval(
        "SELECT count(*) FROM order_snapshot_history WHERE order_id = $1", order
    )
    assert kept == 0
    out = await replay(rt, order_id=order)
    assert out["from_version"] is None and out["replayed"] == SNAPSHOT_EVERY + 1
    assert out["consistent"] is True


async def test_a_snapshot_without_events_is_removed_by_repair(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """What restoring the events from a backup older than the order leaves: the
    way out the append's error names (repair, then resend) must work."""
    rt = es_runtime
    stand_ins(httpserver)
    order = f"ord-orphan-{uuid.uuid4().hex[:8]}"
    pool = rt.db.pool
    await pool.execute(
        "INSERT INTO order_snapshots (order_id, version, state) VALUES ($1, 2, $2)",
        order,
        {"status": "paid", "items": [], "anomalies": []},
    )
    index = "SELECT status, version FROM order_search_index WHERE order_id = $1"
    await pool.execute(
        "INSERT INTO order_search_index (order_id, status, version) VALUES ($1, 'paid', 2)", order
    )
    found = await replay(rt, order_id=order)
    assert found["checked"] is True and found["consistent"] is False
    fixed = await replay(rt, order_id=order, repair=True)
    assert fixed["repaired"] is True and fixed["repair_refused"] is None
    assert (
        await pool.fetchval("SELECT count(*) FROM order_snapshots WHERE order_id = $1", order) == 0
    )
    # Its search index row goes too: left at v2, it would have kept the next
    # events' rows (v1, v2) out, as the index takes only a newer version.
    assert await pool.fetchrow(index, order) is None
    created = await deliver(rt, lifecycle(order)[0])
    assert created["output"]["version"] == 1
    assert (await replay(rt, order_id=order))["consistent"] is True
    assert tuple(await pool.fetchrow(index, order)) == ("pending", 1)


#: Every point a replay is asked at; the Agent variant refuses `repair` before it starts.
POINTS = {
    "head": {},
    "version": {"version": 0},
    "as_of": {"as_of": "2030-01-02T10:00:00Z"},
    "from_start": {"from_start": True},
    "repair": {"repair": True},
}
UNKNOWN_ORDER_REPLAYS = [("replay_events", p) for p in POINTS] + [
    ("replay_events_agent", p) for p in POINTS if p != "repair"
]


@pytest.fixture
def replay_rt(request: pytest.FixtureRequest, workflow: str) -> Any:
    """The module's runtime; for the Agent variant, with its model stand-in."""
    return request.getfixturevalue("agent_workflows" if "agent" in workflow else "es_runtime")


@pytest.mark.parametrize(("workflow", "point"), UNKNOWN_ORDER_REPLAYS)
async def test_an_order_that_never_existed_is_not_reported_consistent(
    replay_rt: Any, httpserver: HTTPServer, workflow: str, point: str
) -> None:
    """A mistyped order_id answered `consistent: true`: it read as a passed check.
    It is not consistent, and not a mismatch either: nothing is recorded or alerted."""
    rt = replay_rt
    stand_ins(httpserver)  # Slack's hook among them: an alert would be taken
    order = f"no-such-order-{uuid.uuid4().hex[:8]}"
    result = await rt.execute(rt.load_workflow(workflow), {"order_id": order, **POINTS[point]})
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert (out["found"], out["checked"], out["consistent"]) == (False, False, False)
    assert out["check_id"] is None and out["repaired"] is False
    recorded = await rt.db.pool.fetchval(
        "SELECT count(*) FROM consistency_checks WHERE order_id = $1", order
    )
    assert recorded == 0
    assert [r for r in calls(httpserver, "/slack/hook") if order in r.get_data(as_text=True)] == []
