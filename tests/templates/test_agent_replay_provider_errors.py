"""Replay Events (Agent) asks the model again after a provider error, as Order
Processing (Agent) does (its README: a 429, a 5xx or a network error is asked again
twice). Its one model call per event had no `retries`: one 500 or rate limit among an
order's calls failed the whole replay, and running it again paid for every call again."""

from __future__ import annotations

import uuid
from typing import Any

from es_support import StandInModel, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer


async def test_a_replay_asks_the_model_again_after_a_provider_error(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for event in lifecycle(order):
        await deliver(rt, event, path="orders/agent-events")
    asked = len(stand_in_model.prompts)
    stand_in_model.fail_next = 2  # the provider overloaded for a moment
    result = await rt.execute(rt.load_workflow("replay_events_agent"), {"order_id": order})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["consistent"] is True and result["output"]["events"] == 4
    assert len(stand_in_model.prompts) - asked == 4 + 2  # each event once, and the two again
