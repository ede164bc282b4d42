"""The Agent variants, wired end to end against an OpenAI-compatible stand-in.

The stand-in (a pytest-httpserver handler, used only in tests) answers chat
completions by applying the event with the deterministic reducer, so the test
checks the wiring — prompt in, JSON state out, snapshot and replay — not a model.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from templates import instantiate

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "templates" / "lib"))
from order_events import apply_event  # noqa: E402


def _section(text: str, label: str) -> Any:
    for line in text.splitlines():
        if line.startswith(label):
            raw = line[len(label) :].strip()
            return json.loads(raw) if raw else None
    raise AssertionError(f"no {label!r} line in the prompt")


def chat_completion(request: Request) -> Response:
    body = request.get_json()
    assert body["model"] == "gpt-4o-mini" and body["response_format"] == {"type": "json_object"}
    prompt = body["messages"][-1]["content"]
    state = apply_event(_section(prompt, "Current state:"), _section(prompt, "Event:"))
    reply = {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": json.dumps({"state": state})},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }
    return Response(json.dumps(reply), content_type="application/json")


@pytest.fixture
def agent_workflows(
    es_runtime: Any, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Any:
    for template in ("order_processing_agent", "replay_events_agent"):
        if not (es_runtime.workflows_dir / f"{template}.yaml").exists():
            instantiate(template, es_runtime.workflows_dir)
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
        chat_completion
    )
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-standin-not-a-real-key")
    return es_runtime


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
