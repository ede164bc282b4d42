"""A model's refusal (OpenAI's `message.refusal`, its content null) is the Agent
block's error, in its words, served by the chat-completions stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn


def agent_workflow(extra: str = "") -> str:
    return f"""
        name: agent_reply_shapes
        blocks:
          ask:
            type: agent
            model: gpt-4o-mini
            prompt: Answer as JSON
            retries: 1
            retry_backoff: 0.01
            {extra}
        """


def completion(content: Any, **message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-shapes",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content, **message},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }


@pytest.mark.parametrize(
    "response_format", ["text", "json", "{json_schema: {type: object, required: [status]}}"]
)
async def test_a_refusal_is_an_error_that_quotes_it(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, response_format: str
) -> None:
    """A refusal succeeded with content "" (text), or failed "not valid JSON …; raw
    reply: " with nothing after it: the model's words were nowhere."""
    openai_env.answer_with(completion(None, refusal="I can't help with that request."))
    result = await run_yaml(agent_workflow(f"response_format: {response_format}"))
    assert result["status"] == "failed"
    assert result["error"]["type"] == "AgentError"
    assert result["error"]["message"] == (
        "the model refused to answer: I can't help with that request."
    )
    assert result["blocks"]["ask"]["attempts"] == 2  # the model's answer: it may answer
