"""A reply with no content but a reason (a refusal, a tool call, a content filter)
is the Agent block's error, saying which, served by the chat-completions stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn
from standins.openai_standin import chat_completion as completion
from test_agent_json_objects import agent_workflow


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


TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "refund", "arguments": "{"}}


@pytest.mark.parametrize(
    ("message", "finish", "said"),
    [
        (
            {"tool_calls": [TOOL_CALL]},
            "tool_calls",
            "the model answered with a call of refund instead of text: the Agent block"
            " offers the model no tools",
        ),
        (
            {"function_call": {"name": "refund", "arguments": "{}"}},
            "function_call",
            "the model answered with a call of refund instead of text: the Agent block"
            " offers the model no tools",
        ),
        ({}, "content_filter", "the provider withheld the reply (finish_reason: content_filter)"),
    ],
)
@pytest.mark.parametrize("response_format", ["text", "json"])
@pytest.mark.parametrize("content", [None, ""])
async def test_a_reply_with_no_content_but_a_reason_is_an_error_that_says_it(
    run_yaml: Any,
    openai_env: ChatCompletionsStandIn,
    message: dict[str, Any],
    finish: str,
    said: str,
    response_format: str,
    content: str | None,
) -> None:
    """A tool call (the block offers none: a proxy's or a fine-tune's habit) or Azure's
    content filter, content null (OpenAI) or "" (Ollama, vLLM): it passed for an empty
    answer in text mode."""
    body = completion(content, **message)
    body["choices"][0]["finish_reason"] = finish
    openai_env.answer_with(body)
    result = await run_yaml(agent_workflow(f"response_format: {response_format}"))
    assert result["status"] == "failed"
    assert result["error"]["message"] == said
    assert result["blocks"]["ask"]["attempts"] == 2


async def test_an_empty_text_reply_is_still_a_reply(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    openai_env.answer_with(completion(""))
    result = await run_yaml(agent_workflow())
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["content"] == ""
