"""What the Agent block makes of a provider's 200 answers that are odd or broken,
served by the chat-completions stand-in (`answer_with`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn


def agent_workflow(extra: str = "") -> str:
    return f"""
        name: agent_replies
        blocks:
          ask:
            type: agent
            model: gpt-4o-mini
            prompt: hello
            retries: 2
            retry_backoff: 0.01
            {extra}
        """


def completion(content: Any = "ok", **changes: Any) -> dict[str, Any]:
    """A chat.completion body in OpenAI's shape, with ``changes`` to its fields."""
    body: dict[str, Any] = {
        "id": "chatcmpl-replies",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
    }
    return body | changes


# -- answers with no reply in them --------------------------------------------------------

QUOTA = {
    "error": {
        "message": "insufficient_quota: You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}


@pytest.mark.parametrize("response_format", ["text", "json"])
@pytest.mark.parametrize(
    ("body", "said"),
    [
        (QUOTA, "the provider answered with an error: insufficient_quota: You exceeded"),
        (completion(choices=[]), "the provider's answer holds no reply (no choices)"),
        (completion(choices=None), "the provider's answer holds no reply (no choices)"),
        (None, "the provider's answer is not a chat completion"),
    ],
)
async def test_an_answer_with_no_choices_fails_and_is_not_retried(
    run_yaml: Any,
    openai_env: ChatCompletionsStandIn,
    body: Any,
    said: str,
    response_format: str,
) -> None:
    """It succeeded with content "" (text), or failed "not valid JSON; raw reply: " (json):
    a downstream block ran on an empty answer."""
    openai_env.answer_with(body)
    result = await run_yaml(agent_workflow(f"response_format: {response_format}"))
    assert result["status"] == "failed"
    assert result["error"]["type"] == "AgentError"
    assert result["error"]["message"].startswith(said)
    assert result["blocks"]["ask"]["attempts"] == 1  # the same provider answers the same


async def test_an_error_answer_with_a_retriable_status_is_retried(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    """A gateway answering 200 with a rate-limit error in it: 429, as the table says."""
    limited = {"error": {"message": "Rate limit reached", "code": 429}}
    openai_env.answer_with(limited, completion("now it is fine"))
    result = await run_yaml(agent_workflow())
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["content"] == "now it is fine"
    assert result["blocks"]["ask"]["attempts"] == 2


# -- answers that are broken, or shaped their own way ------------------------------------


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b'{"choices": [{"message": ', "the provider's answer is not valid JSON (Expecting value"),
        (
            b'{"choices": [{"message": {"content": "caf\xe9"}}]}',
            "the provider's answer is not UTF-8 text, as JSON must be",
        ),
        (
            completion(choices=[{"index": 0, "finish_reason": "stop"}]),
            "the provider's answer has no message in its first choice: ",
        ),
        (
            completion(choices=[{"index": 0, "message": "ok"}]),
            "the provider's answer has no message in its first choice: ",
        ),
        (completion(choices=["ok"]), "the provider's answer has no message in its first choice: "),
        (
            completion({"text": "ok"}),
            "the provider's answer is not text in its message's content: ",
        ),
    ],
)
async def test_a_broken_answer_is_a_clear_error_and_not_retried(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, body: Any, said: str
) -> None:
    """They were JSONDecodeError, UnicodeDecodeError, AttributeError, retried."""
    openai_env.answer_with(body)
    result = await run_yaml(agent_workflow())
    assert result["status"] == "failed"
    assert result["error"]["type"] == "AgentError"
    assert result["error"]["message"].startswith(said)
    assert result["blocks"]["ask"]["attempts"] == 1
    assert len(openai_env.requests) == 1


async def test_a_content_list_is_the_text_of_its_parts(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    """A content list came back as the list itself in text mode."""
    parts = [
        {"type": "text", "text": '{"status": '},
        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/x.png"}},
        {"type": "text", "text": '"paid"}'},
    ]
    openai_env.answer_with(completion(parts))
    text = await run_yaml(agent_workflow())
    assert text["status"] == "succeeded", text["error"]
    assert text["output"]["content"] == '{"status": "paid"}'
    parsed = await run_yaml(agent_workflow("response_format: json"))
    assert parsed["status"] == "succeeded", parsed["error"]
    assert parsed["output"]["content"] == {"status": "paid"}


async def test_a_model_that_is_no_name_fails_nothing(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    """A numeric `model` failed an otherwise good reply with an AttributeError."""
    openai_env.answer_with(completion("fine", model=4))
    result = await run_yaml(agent_workflow())
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["content"] == "fine"
    assert out["model"] == "gpt-4o-mini"  # the one asked, as for an answer naming none
    assert out["cost_usd"] == pytest.approx((10 * 0.15 + 4 * 0.60) / 1e6)


# -- usage numbers --------------------------------------------------------------------------


def _with_usage(usage: str) -> bytes:
    """A completion whose usage is this JSON text (1e999 cannot be a Python float)."""
    text = json.dumps(completion("ok", usage="USAGE"))
    return text.replace('"USAGE"', usage).encode()


@pytest.mark.parametrize(
    ("usage", "reported"),
    [
        (
            '{"prompt_tokens": 10, "completion_tokens": NaN, "total_tokens": null}',
            {"prompt_tokens": 10, "completion_tokens": None, "total_tokens": None},
        ),
        (
            '{"prompt_tokens": 1e999, "completion_tokens": 4, "total_tokens": 14}',
            {"prompt_tokens": None, "completion_tokens": 4, "total_tokens": 14},
        ),
        (
            '{"prompt_tokens": "a", "completion_tokens": 4, "total_tokens": "a"}',
            {"prompt_tokens": None, "completion_tokens": 4, "total_tokens": None},
        ),
        (
            '{"prompt_tokens": 10, "completion_tokens": -4}',
            {"prompt_tokens": 10, "completion_tokens": None, "total_tokens": None},
        ),
    ],
)
async def test_unusable_usage_numbers_are_unknown_and_so_is_the_cost(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, usage: str, reported: dict[str, Any]
) -> None:
    """They were read as 0, and the call was said to cost $0.0."""
    openai_env.answer_with(_with_usage(usage))
    result = await run_yaml(agent_workflow())
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["usage"] == reported
    assert result["output"]["cost_usd"] is None


async def test_usable_usage_numbers_are_kept(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    openai_env.answer_with(_with_usage('{"prompt_tokens": 10.0, "completion_tokens": 4}'))
    result = await run_yaml(agent_workflow())
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}
    assert out["cost_usd"] == pytest.approx((10 * 0.15 + 4 * 0.60) / 1e6)


async def test_json_cut_off_by_the_token_limit_says_so_and_is_not_asked_again(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    """It failed as "not valid JSON (Expecting ',' delimiter…)", naming no limit, and
    each of `retries` paid for the same cut-off reply again."""
    openai_env.answer_with(
        {
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "message": {"role": "assistant", "content": '{"total": 1'},
                    "finish_reason": "length",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        }
    )
    result = await run_yaml(
        """
        name: agent_cut_off
        blocks:
          ask:
            type: agent
            prompt: "Sum it up as JSON"
            response_format: json
            max_tokens: 5
            retries: 2
            retry_backoff: 0.01
        """
    )
    assert result["status"] == "failed"
    assert result["blocks"]["ask"]["attempts"] == 1
    assert len(openai_env.requests) == 1
    message = result["error"]["message"]
    assert "cut off at the token limit (finish_reason: length, max_tokens 5)" in message
    assert "raise max_tokens" in message and '{"total": 1' in message
