"""A Slack alert that cannot be sent does not hide Replay Events' verdict.

Black-box report: with Slack answering 500 (or 429, a redirect, a timeout), a replay
that found a mismatch and repaired it ended `failed` with output null, although the
check and the repair were committed: the caller learned neither. As in Order
Processing, Slack being down does not fail the run: the output is the verdict, and
`alert_error` says the alert was not sent. So in Replay Events (Agent), which
never repairs: its verdict was lost the same way.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from es_support import REPLAYS, StandInModel, calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer


@pytest.mark.parametrize("template", REPLAYS)
@pytest.mark.parametrize("status", [500, 403])
async def test_the_verdict_and_the_repair_are_answered_when_slack_refuses_the_alert(
    template_rt: Any, httpserver: HTTPServer, status: int, template: str
) -> None:
    es_runtime = template_rt
    agent = template == "replay_events_agent"  # it never repairs: see its README
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:2]:
        await deliver(es_runtime, ev)
    pool = es_runtime.db.pool
    await pool.execute(
        "UPDATE order_snapshots SET state = jsonb_set(state, '{status}', '\"x\"')"
        " WHERE order_id = $1",
        order,
    )
    httpserver.clear()  # Slack now refuses every post
    httpserver.expect_request("/slack/hook", method="POST").respond_with_data("down", status=status)
    if agent:  # the model stand-in, which clear() took away too
        model = StandInModel()
        httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(model)

    input = {"order_id": order} if agent else {"order_id": order, "repair": True}
    result = await es_runtime.execute(es_runtime.load_workflow(template), input)
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["consistent"] is False and out["repaired"] is not agent
    assert f"Slack webhook returned {status}" in out["alert_error"], out["alert_error"]
    assert calls(httpserver, "/slack/hook")  # it was tried
    recorded = await pool.fetchrow(
        "SELECT consistent, repaired FROM consistency_checks WHERE id = $1", out["check_id"]
    )
    assert tuple(recorded) == (False, not agent)
    state = await pool.fetchval(
        "SELECT state->>'status' FROM order_snapshots WHERE order_id = $1", order
    )
    assert state == ("x" if agent else "paid")


@pytest.mark.parametrize("template", REPLAYS)
async def test_a_sent_alert_leaves_alert_error_null(
    template_rt: Any, httpserver: HTTPServer, template: str
) -> None:
    es_runtime = template_rt
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(es_runtime, lifecycle(order)[0])
    await es_runtime.db.pool.execute(
        "UPDATE order_snapshots SET version = 7 WHERE order_id = $1", order
    )
    result = await es_runtime.execute(es_runtime.load_workflow(template), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["consistent"] is False and result["output"]["alert_error"] is None
    assert order in calls(httpserver, "/slack/hook")[-1].get_json()["text"]
