"""A base_url that is no http(s) URL: refused at validation when written out, and when
the block runs (a reference's value, OPENAI_BASE_URL) as a setting to fix, before any
request and without asking again, as the HTTP block refuses such a `url`. It passed
validation, then failed each attempt as *cannot reach localhost:11434/v1: Connection
error.* (Ollama's address written without http://), or with httpx's bare InvalidURL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn
from workflow_problems import problems


def test_a_written_base_url_that_is_no_http_url_fails_validation(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
name: agent_base_urls
blocks:
  a: {type: agent, prompt: hi, base_url: "localhost:11434/v1"}
  b: {type: agent, prompt: hi, base_url: "ftp://models.test/v1"}
  c: {type: agent, prompt: hi, base_url: "HTTPS://models.test/v1"}
  d: {type: agent, prompt: hi, base_url: "<env.MY_BASE_URL>"}
  e: {type: agent, prompt: hi, base_url: "http://[::1/v1"}
  f: {type: agent, prompt: hi, base_url: "http://:11434/v1"}
edges: [a -> b, b -> c, c -> d, d -> e, e -> f]
""",
    )
    where = f"{tmp_path / 'bad.yaml'}"
    assert found == [
        f"{where}: block 'a': field 'base_url': the base_url must start with http:// or"
        " https://, and this one has no scheme",
        f"{where}: block 'b': field 'base_url': the base_url must start with http:// or"
        " https://, not ftp://",
        f"{where}: block 'e': field 'base_url': the base_url is not a valid URL: Invalid port: ':1'",
        # No host (docs/blocks/agent.md: "a valid URL"): it was asked, and asked again,
        # as *cannot reach http://:11434/v1: Connection error.*
        f"{where}: block 'f': field 'base_url': the base_url names no host",
    ]


def agent_workflow(base_url: str) -> str:
    return f"""
        name: agent_base_url_run
        blocks:
          ask:
            type: agent
            prompt: hello
            base_url: {base_url}
            retries: 2
            retry_backoff: 0.01
        """


@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ("localhost:11434/v1", "the base_url must start with http:// or https://, and this one"),
        ("http://[::1/v1", "the base_url is not a valid URL: Invalid port: ':1'"),
        ("https://", "the base_url names no host"),
        ("http://:11434/v1", "the base_url names no host"),
    ],
)
@pytest.mark.parametrize("source", ["OPENAI_BASE_URL", "<env.AGENT_BASE_URL>"])
async def test_a_base_url_from_a_setting_that_is_no_http_url_fails_at_once(
    run_yaml: Any,
    openai_env: ChatCompletionsStandIn,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    said: str,
    source: str,
) -> None:
    monkeypatch.setenv(source.strip("<>").removeprefix("env."), setting)
    result = await run_yaml(agent_workflow(f'"{source}"' if source.startswith("<") else '""'))
    assert result["status"] == "failed"
    assert result["error"]["type"] == "AgentError"
    message = result["error"]["message"]
    assert message.startswith(said), message
    named = "OPENAI_BASE_URL" if source == "OPENAI_BASE_URL" else "<env.AGENT_BASE_URL>"
    assert named in message and "11434" not in message
    assert result["blocks"]["ask"]["attempts"] == 1  # a setting to fix: asked again, the same
