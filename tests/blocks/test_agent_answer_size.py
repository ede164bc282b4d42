"""A provider's answer bigger than FLOWYARD_MAX_RESPONSE fails the Agent block, read
no further, as it does the HTTP and Slack blocks (docs/blocks/agent.md). Read whole,
a 300 MB answer grew `flowyard run` to 1.6 GB, and a small gzip body inflating to
gigabytes (or a base_url that streams without end) grew the server until the block's
timeout, or until the kernel killed it with every run in it; every retry again."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn

LIMIT = 1024 * 1024


def agent_workflow() -> str:
    return """
        name: agent_answer_size
        blocks:
          ask:
            type: agent
            model: gpt-4o-mini
            prompt: hello
            retries: 2
            retry_backoff: 0.01
        """


def completion(text: str) -> bytes:
    body = {
        "id": "chatcmpl-size",
        "object": "chat.completion",
        "created": 0,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": text}}],
    }
    return json.dumps(body).encode()


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
async def test_an_answer_over_the_limit_fails_at_once_and_is_not_asked_again(
    run_yaml: Any,
    openai_env: ChatCompletionsStandIn,
    monkeypatch: pytest.MonkeyPatch,
    encoding: str,
) -> None:
    monkeypatch.setenv("FLOWYARD_MAX_RESPONSE", str(LIMIT))
    body = completion("x" * (3 * LIMIT))
    if encoding == "gzip":  # 3 MiB inflated from a few kilobytes
        openai_env.answer_with(gzip.compress(body), headers={"Content-Encoding": "gzip"})
    else:
        openai_env.answer_with(body)
    result = await run_yaml(agent_workflow())
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "bigger than 1,048,576 bytes" in message and "FLOWYARD_MAX_RESPONSE" in message
    assert result["blocks"]["ask"]["attempts"] == 1  # the same answer on every attempt
    assert len(openai_env.requests) == 1


async def test_an_answer_under_the_limit_is_read_gzip_and_all(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYARD_MAX_RESPONSE", str(LIMIT))
    text = "y" * (LIMIT // 2)
    openai_env.answer_with(gzip.compress(completion(text)), headers={"Content-Encoding": "gzip"})
    result = await run_yaml(agent_workflow())
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["content"] == text
