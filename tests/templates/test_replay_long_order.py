"""Replay Events folds an order of more than 10,000 events.

Black-box report: `from_start: true` and `repair: true` failed for an order past
10,000 events (`the loop would run 10050 times, over max_iterations=10000`): the fold
took the loop's default limit. And the fold kept every step's state in its
`results`, which nothing reads: a 5,000-event replay answered 384 MB. Replay Events
(Agent) took the same default: its `from_start` failed the same way (before any model
call), and its loop kept every model answer.
"""

from __future__ import annotations

import uuid
from typing import Any

from es_support import StandInModel, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

#: Past the loop's default max_iterations (10,000).
EVENTS = 10_050


async def replay(rt: Any, template: str = "replay_events", **input: Any) -> dict[str, Any]:
    sub = await rt.submit(rt.load_workflow(template), input)
    result = await rt.wait(sub.execution_id, timeout=600)
    assert result["status"] == "succeeded", result["error"]
    return {**result["output"], "execution_id": sub.execution_id}


async def fold_output(rt: Any, execution_id: str) -> dict[str, Any]:
    """What the run recorded for its top-level `fold` block."""
    [done] = [
        e
        for e in await rt.run_events(execution_id)
        if e["block"] == "fold" and e["type"] == "block_succeeded"
    ]
    return done["data"]["output"]


async def store_long_order(rt: Any) -> str:
    """An order of ``EVENTS`` events, stored as a batch import would, without Order
    Processing's snapshot: created, paid, shipped, then carrier scans, which keep the
    state small (an unusual event would add an anomaly each time), so the test measures
    the fold, not the state."""
    order = f"long-{uuid.uuid4().hex[:8]}"
    await rt.db.pool.execute(
        "INSERT INTO events (event_id, event_type, aggregate_id, aggregate_version, data)"
        " SELECT gen_random_uuid(), (ARRAY['order_created', 'payment_received',"
        " 'order_shipped'])[v] , $1, v, '{}' FROM generate_series(1, 3) v"
        " UNION ALL SELECT gen_random_uuid(), 'tracking_updated', $1, v,"
        " jsonb_build_object('location', 'hub ' || v) FROM generate_series(4, $2) v",
        order,
        EVENTS,
    )
    return order


async def test_an_order_of_more_than_ten_thousand_events_is_audited_and_repaired(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    order = await store_long_order(es_runtime)
    httpserver.expect_request("/slack/hook", method="POST").respond_with_data("ok")
    fixed = await replay(es_runtime, order_id=order, repair=True)
    assert fixed["repaired"] is True and fixed["repair_refused"] is None
    assert fixed["replayed"] == fixed["events"] == EVENTS
    audit = await replay(es_runtime, order_id=order, from_start=True)
    assert audit["consistent"] is True and audit["events"] == EVENTS
    assert audit["state"]["shipping"]["location"] == f"hub {EVENTS}"
    assert audit["state"]["shipping"]["scans"] == EVENTS - 3 and audit["state"]["anomalies"] == []
    # Only the folded state is kept: no per-event copy of it in the run's record.
    recorded = await fold_output(es_runtime, audit["execution_id"])
    assert recorded["iterations"] == EVENTS and recorded["results"] == []


async def test_the_agent_variant_folds_past_ten_thousand_events(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    """The limit is checked on the loop's items, before its first step: the run used
    to fail in `fold` without a model call. Folding all 10,050 events through the
    stand-in takes some 7 minutes (its HTTP round trip), so here the model's first
    answer is not a state, which ends the run in that first step: the fold started."""
    rt = agent_workflows
    order = await store_long_order(rt)
    httpserver.expect_request("/slack/hook", method="POST").respond_with_data("ok")
    stand_in_model.twist = lambda ev, state: {"answer": 42}
    agent = rt.load_workflow("replay_events_agent")
    result = await rt.execute(agent, {"order_id": order, "from_start": True})
    assert result["status"] == "failed"
    assert result["error"]["block"] == "fold[0].step", result["error"]
    assert "did not return an order state" in result["error"]["message"]
    assert len(stand_in_model.prompts) == 1


async def test_the_agent_variant_keeps_no_model_answer_per_event(
    agent_workflows: Any, httpserver: HTTPServer
) -> None:
    """Only the folded state is kept: the loop's `results` held every step's output
    (each model answer, with a copy of the state) for nothing to read."""
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order):
        await deliver(rt, ev)
    out = await replay(rt, "replay_events_agent", order_id=order, from_start=True)
    assert out["consistent"] is True and out["replayed"] == 4
    recorded = await fold_output(rt, out["execution_id"])
    assert recorded["iterations"] == 4 and recorded["results"] == []
