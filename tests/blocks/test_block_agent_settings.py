"""The Agent block's server and key settings, against the chat-completions stand-in
and a recording server: what of them a run records, which are refused, and when."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from processes import free_port
from standins.openai_standin import ChatCompletionsStandIn
from standins.recording import RecordingServer, Scripted
from workflow_problems import problems


def agent_workflow(extra: str = "") -> str:
    return f"""
        name: agent_settings
        blocks:
          ask:
            type: agent
            prompt: hello
            retries: 1
            retry_backoff: 0.01
            {extra}
        """


async def stored_text(runtime: Any, result: dict[str, Any]) -> str:
    """The live result, the run row and its events, as text."""
    eid = result["execution_id"]
    run = await runtime.db.pool.fetchval(
        "SELECT row_to_json(r)::text FROM flowyard_runs r WHERE execution_id = $1", eid
    )
    events = await runtime.db.pool.fetchval(
        "SELECT coalesce(string_agg(data::text, ' '), '') FROM flowyard_run_events"
        " WHERE execution_id = $1",
        eid,
    )
    return json.dumps(result) + run + events


async def recorded_inputs(runtime: Any, result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = await runtime.db.pool.fetch(
        "SELECT data::text AS d FROM flowyard_run_events WHERE execution_id = $1"
        " AND data::jsonb ? 'inputs' ORDER BY seq",
        result["execution_id"],
    )
    return [json.loads(r["d"])["inputs"] for r in rows]


# -- base_url: credentials and query -----------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "written"),
    [
        ("PROXYPASS99", "http://proxyuser:PROXYPASS99@127.0.0.1:{port}/v1"),
        ("QKEY123SECRET", "http://127.0.0.1:{port}/v1?api-key=QKEY123SECRET"),
    ],
)
async def test_credentials_in_an_unreachable_base_url_are_in_no_record(
    run_yaml: Any,
    runtime: Any,
    openai_env: ChatCompletionsStandIn,
    monkeypatch: pytest.MonkeyPatch,
    secret: str,
    written: str,
) -> None:
    """Each attempt's error said `cannot reach http://proxyuser:PROXYPASS99@…/v1`,
    and the recorded inputs held the base_url as written."""
    port = free_port()
    monkeypatch.setenv("OPENAI_BASE_URL", written.format(port=port))
    result = await run_yaml(agent_workflow())
    assert result["status"] == "failed"
    assert result["blocks"]["ask"]["attempts"] == 2
    assert result["error"]["message"].startswith(f"cannot reach http://127.0.0.1:{port}/v1: ")
    assert secret not in await stored_text(runtime, result)
    inputs = await recorded_inputs(runtime, result)
    assert inputs and {i["base_url"] for i in inputs} == {f"http://127.0.0.1:{port}/v1"}


async def test_a_password_in_the_base_url_from_the_environment_is_a_secret(
    run_yaml: Any, runtime: Any, recorder: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider (or proxy) quoting the password back: it is redacted like the key."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-settings-key")
    base = recorder.url.replace("http://", "http://proxyuser:PROXYPASS99@") + "/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", base)
    recorder.respond(
        "/v1/chat/completions",
        Scripted(400, {"error": {"message": "proxy refused proxyuser:PROXYPASS99"}}),
    )
    result = await run_yaml(agent_workflow())
    assert result["status"] == "failed"
    assert "proxy refused" in result["error"]["message"]
    assert "PROXYPASS99" not in await stored_text(runtime, result)
    assert recorder.requests_to("/v1/chat/completions")  # it was sent


async def test_a_query_value_of_the_base_url_from_the_environment_is_a_secret(
    run_yaml: Any, runtime: Any, recorder: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-settings-key")
    monkeypatch.setenv("OPENAI_BASE_URL", f"{recorder.url}/v1?api-key=QKEY123SECRET")
    recorder.respond(
        "/v1/chat/completions",
        Scripted(400, {"error": {"message": "unknown api-key QKEY123SECRET"}}),
    )
    result = await run_yaml(agent_workflow())
    assert result["status"] == "failed"
    assert "unknown api-key" in result["error"]["message"]
    assert "QKEY123SECRET" not in await stored_text(runtime, result)
    # Sent to the endpoint with the query kept: the SDK appended its path after the
    # query (`/v1/?api-key=QKEY123SECRETchat/completions`).
    [sent] = recorder.requests
    assert (sent.path, sent.query) == ("/v1/chat/completions", {"api-key": "QKEY123SECRET"})


async def test_a_plain_base_url_is_recorded_as_it_is(
    run_yaml: Any, runtime: Any, openai_env: ChatCompletionsStandIn
) -> None:
    result = await run_yaml(agent_workflow())
    assert result["status"] == "succeeded", result["error"]
    assert [i["base_url"] for i in await recorded_inputs(runtime, result)] == [openai_env.base_url]


# -- api_key: what no HTTP header can carry ---------------------------------------------


@pytest.mark.parametrize("spoilt", ["{key}\n", "{key} ", "sk-tëst-key", "sk-\u200bkey"])
async def test_a_key_no_header_can_carry_is_refused_naming_the_setting(
    run_yaml: Any,
    runtime: Any,
    openai_env: ChatCompletionsStandIn,
    monkeypatch: pytest.MonkeyPatch,
    spoilt: str,
) -> None:
    """A trailing newline was "cannot reach …: Connection error" after every attempt; a
    non-ASCII key a raw UnicodeEncodeError, retried."""
    key = spoilt.format(key=openai_env.api_key)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    result = await run_yaml(agent_workflow())
    assert result["status"] == "failed"
    assert result["error"] == {
        "type": "AgentError",
        "message": "the API key in OPENAI_API_KEY has a space, a line break or a non-ASCII "
        "character in it, which an HTTP header cannot carry: check the setting",
        "block": "ask",
    }
    assert result["blocks"]["ask"]["attempts"] == 1
    assert openai_env.requests == []
    assert key.strip() not in await stored_text(runtime, result)


async def test_a_spoilt_key_from_the_block_names_its_api_key(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYARD_AGENT_TEST_KEY", openai_env.api_key + "\r\n")
    result = await run_yaml(agent_workflow("api_key: <env.FLOWYARD_AGENT_TEST_KEY>"))
    assert result["status"] == "failed"
    assert result["error"]["message"].startswith(
        "the API key in the block's api_key (<env.FLOWYARD_AGENT_TEST_KEY>) has a space"
    )
    assert result["blocks"]["ask"]["attempts"] == 1
    assert openai_env.requests == []


# -- api_key: never a literal in the file -------------------------------------------------


def test_a_key_written_into_the_workflow_file_fails_validation(tmp_path: Path) -> None:
    """`api_key: sk-…` was accepted silently, the key kept in the file (and its history)."""
    found = problems(
        tmp_path,
        """
name: agent_literal_key
blocks:
  a: {type: agent, prompt: hi, api_key: sk-live-1234567890}
  b: {type: agent, prompt: hi, api_key: <env.MY_OPENAI_KEY>}
  c: {type: agent, prompt: hi, api_key: <input.key>}
  d: {type: agent, prompt: hi}
edges: [a -> b, b -> c, c -> d]
""",
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'a': field 'api_key': a key written into the "
        "workflow file: use <env.NAME> (or leave api_key out for OPENAI_API_KEY)"
    ]
    assert "sk-live-1234567890" not in "".join(found)
