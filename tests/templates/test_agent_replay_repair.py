"""Replay Events (Agent) never writes a model's answer into ``order_snapshots``.

Black-box report D3: with ``repair: true`` the model's reply (``{"answer": 42}``,
or a well-formed but wrong state) replaced a correct live snapshot, and the
order's next live event was applied on top of it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import StandInModel, calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer


async def agent_replay(rt: Any, **input: Any) -> dict[str, Any]:
    return await rt.execute(rt.load_workflow("replay_events_agent"), input)


@pytest.mark.parametrize("twist", [{"answer": 42}, "bogus"])
async def test_agent_replay_refuses_repair_and_leaves_the_snapshot_alone(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel, twist: Any
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:3]:
        await deliver(rt, ev)  # the deterministic template: a correct snapshot
    pool = rt.db.pool
    before = await pool.fetchrow("SELECT * FROM order_snapshots WHERE order_id = $1", order)
    stand_in_model.twist = (
        (lambda ev, state: twist)
        if isinstance(twist, dict)
        else (lambda ev, state: {"state": {**state, "status": "bogus_shipped"}})
    )
    asked = len(calls(httpserver, "/v1/chat/completions"))
    result = await agent_replay(rt, order_id=order, repair=True, from_start=True)
    assert result["status"] == "failed"
    assert result["error"]["block"] == "check_input"
    assert "Repair with the deterministic Replay Events" in result["error"]["message"]
    assert len(calls(httpserver, "/v1/chat/completions")) == asked  # no model was asked
    after = await pool.fetchrow("SELECT * FROM order_snapshots WHERE order_id = $1", order)
    assert dict(after) == dict(before)


async def test_agent_replay_reports_a_wrong_model_state_as_a_mismatch(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    """Without repair it still checks: the model's wrong state is a mismatch, and
    the snapshot stays what the reducer made."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:3]:
        await deliver(rt, ev)
    stand_in_model.twist = lambda ev, state: {"state": {**state, "status": "bogus_shipped"}}
    result = await agent_replay(rt, order_id=order, from_start=True)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["consistent"] is False and result["output"]["repaired"] is False
    # The alert does not blame the snapshot: here it is the model that is wrong.
    [alert] = [c.get_json()["text"] for c in calls(httpserver, "/slack/hook")
               if order in c.get_json()["text"] and "match" in c.get_json()["text"]]  # fmt: skip
    assert "the model's replay of its events" in alert, alert
    assert "The model or the snapshot is wrong" in alert
    status = await rt.db.pool.fetchval(
        "SELECT state->>'status' FROM order_snapshots WHERE order_id = $1", order
    )
    assert status == "shipped"


async def test_agent_replay_refuses_a_reply_that_is_not_an_order_state(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0])
    stand_in_model.twist = lambda ev, state: {"answer": 42}
    result = await agent_replay(rt, order_id=order, from_start=True)
    assert result["status"] == "failed"
    assert "did not return an order state with a status" in result["error"]["message"]


async def test_a_repair_of_the_agent_s_state_rewrites_the_search_index_too(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    """The Agent variant stored a model's wrong status at v4, in the snapshot and
    the search index. The deterministic repair rewrote the snapshot, but the index
    (upserted only by a newer version) kept saying `hallucinated|4`."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    stand_in_model.twist = lambda ev, state: {
        "state": {**state, "status": "hallucinated", "customer": {"email": "x@evil.example"}}
        if ev["event_type"] == "order_delivered"
        else state
    }
    for ev in lifecycle(order):
        await deliver(rt, ev, path="orders/agent-events")
    index = "SELECT status, version, customer_email, customer_name, total_cents FROM order_search_index WHERE order_id = $1"  # fmt: skip
    assert tuple(await rt.db.pool.fetchrow(index, order))[:2] == ("hallucinated", 4)

    result = await rt.execute(
        rt.load_workflow("replay_events"), {"order_id": order, "repair": True}
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["repaired"] is True
    assert tuple(await rt.db.pool.fetchrow(index, order)) == (
        "delivered", 4, "ada@example.com", "Lovelace", 1250,
    )  # fmt: skip
    again = await rt.execute(rt.load_workflow("replay_events"), {"order_id": order})
    assert again["output"]["consistent"] is True


async def test_the_agent_s_capture_decision_rests_on_its_earlier_answers(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    """What the Agent README says a capture rests on: the capture rule is code, but
    it reads the stored snapshot, which in this variant the model wrote. A model that
    answered "shipped" for an order_cancelled had the next payment captured; the
    deterministic Replay finds the order cancelled, and after its repair a payment
    is refused."""
    rt = agent_workflows
    stand_ins(httpserver)
    path = "orders/agent-events"
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    stand_in_model.twist = lambda ev, state: {
        "state": {**state, "status": "shipped"} if ev["event_type"] == "order_cancelled" else state
    }
    await deliver(rt, created, path=path)
    await deliver(
        rt, {"event_type": "order_cancelled", "order_id": order, "reason": "x"}, path=path
    )
    taken = await deliver(rt, paid, path=path)
    assert taken["output"]["capture"] == "succeeded"  # money taken for a cancelled order

    replay = rt.load_workflow("replay_events")
    check = (await rt.execute(replay, {"order_id": order}))["output"]
    assert check["consistent"] is False and check["state"]["status"] == "cancelled"
    fixed = (await rt.execute(replay, {"order_id": order, "repair": True}))["output"]
    assert fixed["repaired"] is True
    refused = await deliver(rt, {**paid, "event_id": str(uuid.uuid4())}, path=path)
    assert refused["output"]["capture"] == "refused"
    # The README's query for the captures to refund finds the one made.
    readme = (Path(__file__).parents[2] / "templates/order_processing_agent/README.md").read_text()
    query = readme.split("```sql\n", 1)[1].split("```", 1)[0]
    listed = [r for r in await rt.db.pool.fetch(query) if r["order_id"] == order]
    assert [(str(r["event_id"]), r["charge_id"]) for r in listed] == [
        (taken["output"]["event_id"], "ch_123")
    ]
