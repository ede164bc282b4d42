"""The Agent variants, wired end to end against an OpenAI-compatible stand-in.

The stand-in (a pytest-httpserver handler, used only in tests) answers chat
completions by applying the event with the deterministic reducer, so the test
checks the wiring — prompt in, JSON state out, snapshot and replay — not a model.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest
from es_support import StandInModel, calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

from blocks.webhook import accept


async def test_agent_variants_process_and_replay(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order):
        await deliver(rt, ev, path="orders/agent-events")
    snap = await rt.db.pool.fetchrow(
        "SELECT version, state FROM order_snapshots WHERE order_id = $1", order
    )
    assert snap["version"] == 4 and snap["state"]["status"] == "delivered"
    result = await rt.execute(rt.load_workflow("replay_events_agent"), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["consistent"] is True and result["output"]["events"] == 4
    assert result["blocks"]["fold"]["output"]["iterations"] == 4


async def test_agent_replay_catches_a_snapshot_ahead_of_the_events(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    """The agent variant's check uses the events' head, as Replay Events does: a
    snapshot claiming more versions than the stream holds is a mismatch."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order):
        await deliver(rt, ev, path="orders/agent-events")
    await rt.db.pool.execute("UPDATE order_snapshots SET version = 10 WHERE order_id = $1", order)
    replay = rt.load_workflow("replay_events_agent")
    result = await rt.execute(replay, {"order_id": order, "as_of": "2999-01-01T00:00:00Z"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["checked"] is True and result["output"]["consistent"] is False


def model_saw(httpserver: HTTPServer, event_id: str) -> bool:
    """Whether any prompt sent to the stand-in model held this event."""
    return any(
        event_id in req.get_json()["messages"][-1]["content"]
        for req in calls(httpserver, "/v1/chat/completions")
    )


async def attempt(rt: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Deliver one event to the agent variant and return its run, whatever its status."""
    raw = json.dumps(body).encode()
    resp = await accept(rt, "orders/agent-events", "POST", {}, {}, raw)
    assert resp.status == 202, resp.body
    return await rt.wait(resp.body["execution_id"], timeout=60)


async def test_agent_append_refuses_an_event_version_newer_than_the_reducer(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path="orders/agent-events")
    event_id = str(uuid.uuid4())
    result = await attempt(rt, {**paid, "event_id": event_id, "event_version": 3})
    assert result["status"] == "failed"
    assert event_id in result["error"]["message"]
    assert "event_version 3" in result["error"]["message"]
    assert not model_saw(httpserver, event_id)
    assert (
        await rt.db.pool.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", order) == 1
    )


async def test_agent_append_refuses_to_continue_from_a_snapshot_ahead_of_its_events(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order):
        await deliver(rt, ev, path="orders/agent-events")
    pool = rt.db.pool
    await pool.execute("UPDATE order_snapshots SET version = 6 WHERE order_id = $1", order)
    event_id = str(uuid.uuid4())
    result = await attempt(
        rt, {"event_type": "item_added", "order_id": order, "event_id": event_id, "sku": "Z"}
    )
    assert result["status"] == "failed"
    assert order in result["error"]["message"] and "not appended" in result["error"]["message"]
    assert not model_saw(httpserver, event_id)
    assert (
        await pool.fetchval(
            "SELECT max(aggregate_version) FROM events WHERE aggregate_id = $1", order
        )
        == 4
    )


async def test_agent_replay_keeps_a_stored_too_new_event_as_an_anomaly(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:2]:
        await deliver(rt, ev, path="orders/agent-events")
    event_id = uuid.uuid4()
    await rt.db.pool.execute(
        "INSERT INTO events (event_id, event_type, event_version, aggregate_id, aggregate_version,"
        " data) VALUES ($1, 'order_shipped', 2, $2, 3, $3)",
        event_id,
        order,
        {"carrier": "DHL"},
    )
    result = await rt.execute(rt.load_workflow("replay_events_agent"), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    state = result["output"]["state"]
    assert state["status"] == "paid" and "shipping" not in state
    assert [a["event_id"] for a in state["anomalies"]] == [str(event_id)]


async def test_agent_replay_tells_a_boolean_from_a_number(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0], path="orders/agent-events")
    item = {"event_type": "item_added", "order_id": order, "sku": "G", "gift": True}
    await deliver(rt, item, path="orders/agent-events")
    await rt.db.pool.execute(
        "UPDATE order_snapshots SET state = jsonb_set(state, '{items,1,gift}', '1')"
        " WHERE order_id = $1",
        order,
    )
    result = await rt.execute(rt.load_workflow("replay_events_agent"), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["checked"] is True and result["output"]["consistent"] is False


@pytest.mark.parametrize("status", [7, ["paid"], ""])
async def test_agent_append_refuses_a_state_whose_status_is_not_text(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel, status: Any
) -> None:
    """`{"state": {"status": 7}}` was stored, snapshotted and indexed as status '7'."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path="orders/agent-events")
    stand_in_model.twist = lambda ev, state: {"state": {**state, "status": status}}
    result = await attempt(rt, paid)
    assert result["status"] == "failed"
    assert "did not return an order state with a status" in result["error"]["message"]
    pool = rt.db.pool
    assert await pool.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", order) == 1
    state = await pool.fetchval("SELECT state FROM order_snapshots WHERE order_id = $1", order)
    assert state["status"] == "pending"
    assert not calls(httpserver, "/v1/charges/ch_123/capture")


async def test_agent_apply_asks_again_after_a_provider_error(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    """A 500 from the provider (asked once) failed the run after the 202: the
    event, stored in the same transaction, was rolled back and never stored."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    stand_in_model.fail_next = 2
    result = await deliver(rt, lifecycle(order)[0], path="orders/agent-events")
    assert result["blocks"]["agent_apply"]["attempts"] == 3
    count = "SELECT count(*) FROM events WHERE aggregate_id = $1"
    assert await rt.db.pool.fetchval(count, order) == 1


async def test_the_model_is_sent_the_event_not_the_settings(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    """The prompt was `Event: <enrich>`, settings included: STRIPE_API_BASE, a
    secret redacted in the run's records, went to the provider in clear."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0], path="orders/agent-events")
    prompt = stand_in_model.prompts[-1]
    assert f"Order id: {order}" in prompt and "Event type: order_created" in prompt
    assert os.environ["STRIPE_API_BASE"] not in prompt and "snapshot_every" not in prompt


def state_line(prompt: str) -> str:
    """What the prompt gave the model as the order's current state."""
    label = "Current state:"
    return next(line[len(label) :] for line in prompt.splitlines() if line.startswith(label))


async def test_the_model_is_told_a_new_order_has_a_null_state(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    """The system prompt says "A null current state means a new order", but a
    reference in text renders null as nothing: both variants sent a new order's
    state as `Current state: `, a blank the model was never told about."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path="orders/agent-events")
    assert state_line(stand_in_model.prompts[-1]) == " null"
    pending = await rt.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    await deliver(rt, paid, path="orders/agent-events")
    assert json.loads(state_line(stand_in_model.prompts[-1])) == pending

    asked = len(stand_in_model.prompts)
    result = await rt.execute(rt.load_workflow("replay_events_agent"), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["consistent"] is True
    replayed = [state_line(p) for p in stand_in_model.prompts[asked:]]
    assert len(replayed) == 2 and replayed[0] == " null"
    assert json.loads(replayed[1]) == pending
