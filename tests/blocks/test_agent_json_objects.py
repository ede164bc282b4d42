"""JSON that is no object under `response_format: json`, which asks the model for a
JSON object (docs/blocks/agent.md), served by the chat-completions stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn
from standins.openai_standin import chat_completion as completion


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


@pytest.mark.parametrize("reply", ["[1, 2, 3]", '"paid"', "42", "null"])
async def test_json_that_is_no_object_fails_and_is_asked_again(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, reply: str
) -> None:
    """It succeeded with the list, text or number as `content`: `<ask.content.status>`
    then failed a later block, or a `?` reference read it as missing."""
    openai_env.answer_with(completion(reply), completion('{"status": "paid"}'))
    result = await run_yaml(agent_workflow("response_format: json"))
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["content"] == {"status": "paid"}
    assert result["blocks"]["ask"]["attempts"] == 2  # the model may answer better
    openai_env.answer_with(completion(reply))
    failed = await run_yaml(agent_workflow("response_format: json"))
    assert failed["status"] == "failed"
    message = failed["error"]["message"]
    assert message.startswith("the reply is JSON but not a JSON object")
    assert f"raw reply: {reply}" in message


async def test_a_schema_may_still_ask_for_a_list(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    openai_env.answer_with(completion("[1, 2]"))
    result = await run_yaml(
        agent_workflow("response_format: {json_schema: {type: array, items: {type: integer}}}")
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["content"] == [1, 2]
