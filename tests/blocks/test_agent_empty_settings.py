"""An Agent block whose `base_url` or `api_key` is written but comes out empty sends
nothing: not to the default server, not with the default key.

`base_url: <env.LOCAL_LLM>` (a model on the team's own machine) with the variable set
to nothing was read as "no base_url": the prompt, with the order data in it, went to
OPENAI_BASE_URL, or to OpenAI itself when that is unset. `api_key: <env.PARTNER_KEY>`
empty sent OPENAI_API_KEY, the server's own key, to the block's base_url, a server
the workflow names for its own key. The OpenAI-compatible stand-in on 127.0.0.1 is
the default server (OPENAI_BASE_URL, OPENAI_API_KEY) and records what reaches it.
"""

from __future__ import annotations

from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn


@pytest.mark.parametrize("value", ["", "   "])
@pytest.mark.parametrize("field", ["base_url", "api_key"])
async def test_an_empty_setting_sends_nothing_in_the_defaults_place(
    run_yaml: Any,
    openai_env: ChatCompletionsStandIn,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    value: str,
) -> None:
    monkeypatch.setenv("DOC_AGENT_SETTING", value)
    other = "api_key: <env.OPENAI_API_KEY>" if field == "base_url" else f"base_url: {openai_env.base_url}"  # fmt: skip
    result = await run_yaml(
        f"""
        name: agent_empty_{field}
        blocks:
          ask:
            type: agent
            prompt: "Order 7 of Ada Lovelace"
            {field}: <env.DOC_AGENT_SETTING>
            {other}
            retries: 1
            retry_backoff: 0.01
        """
    )
    assert result["status"] == "failed"
    error = result["blocks"]["ask"]["error"]
    assert error["type"] == "AgentError"
    assert (
        f"the block's {field} is empty (<env.DOC_AGENT_SETTING> has no value)" in error["message"]
    )
    assert result["blocks"]["ask"]["attempts"] == 1
    assert openai_env.requests == []


async def test_a_setting_left_out_still_takes_the_default(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    result = await run_yaml(
        """
        name: agent_defaults
        blocks:
          ask: {type: agent, prompt: hello}
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert len(openai_env.requests) == 1
