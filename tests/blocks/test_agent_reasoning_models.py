"""`max_tokens` for OpenAI's reasoning models (o1, o3, o4 …), which refuse that
parameter (*400 Unsupported parameter: 'max_tokens' is not supported with this
model. Use 'max_completion_tokens' instead.*) and have no other limit the block could
set: it is sent to them as `max_completion_tokens`, to other models as it was
(OpenAI-compatible servers may know no other). Served by the chat-completions stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn


def agent_workflow(model: str) -> str:
    return f"""
        name: agent_reasoning_models
        blocks:
          ask:
            type: agent
            model: {model}
            prompt: hello
            max_tokens: 300
        """


@pytest.mark.parametrize("model", ["o1", "o3-mini", "o4-mini-2025-04-16", "o3"])
async def test_a_reasoning_model_is_sent_max_completion_tokens(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, model: str
) -> None:
    result = await run_yaml(agent_workflow(model))
    assert result["status"] == "succeeded", result["error"]
    [request] = openai_env.requests
    assert request["max_completion_tokens"] == 300 and "max_tokens" not in request


@pytest.mark.parametrize("model", ["gpt-4o-mini", "llama3.1:8b", "omni-7b"])
async def test_other_models_are_sent_max_tokens(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, model: str
) -> None:
    result = await run_yaml(agent_workflow(model))
    assert result["status"] == "succeeded", result["error"]
    [request] = openai_env.requests
    assert request["max_tokens"] == 300 and "max_completion_tokens" not in request
