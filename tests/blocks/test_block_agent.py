"""Agent block through the real openai SDK against the chat-completions stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from standins.openai_standin import ChatCompletionsStandIn
from standins.recording import RecordingServer, Scripted
from workflow_problems import problems

from blocks.agent import cost_usd


def agent_workflow(extra: str = "") -> str:
    return f"""
        version: 1
        name: agent_wf
        blocks:
          ask:
            type: agent
            model: gpt-4o-mini
            system: You apply order events to a state.
            prompt: "Event: <input.event>"
            temperature: 0
            max_tokens: 200
            {extra}
        """


async def _stored_text(runtime: Any, execution_id: str) -> str:
    pool = runtime.db.pool
    run = await pool.fetchval(
        "SELECT row_to_json(r)::text FROM flowyard_runs r WHERE execution_id = $1", execution_id
    )
    events = await pool.fetchval(
        "SELECT coalesce(string_agg(data::text, ' '), '') FROM flowyard_run_events WHERE execution_id = $1",
        execution_id,
    )
    return run + events


async def test_text_reply_usage_cost_and_no_key_in_records(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, runtime: Any
) -> None:
    openai_env.reply_with("The order is now paid.")
    result = await run_yaml(agent_workflow(), {"event": {"type": "payment_received"}})
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["content"] == "The order is now paid."
    assert out["model"] == "gpt-4o-mini"
    usage = out["usage"]
    assert usage["completion_tokens"] == 5 and usage["total_tokens"] == usage["prompt_tokens"] + 5
    assert out["cost_usd"] == pytest.approx((usage["prompt_tokens"] * 0.15 + 5 * 0.60) / 1e6)
    # What the provider got: the key, the prompt with the reference resolved, the options.
    [request] = openai_env.requests
    assert openai_env.authorizations == [f"Bearer {openai_env.api_key}"]
    assert request["messages"][1]["content"] == 'Event: {"type":"payment_received"}'
    assert request["temperature"] == 0 and request["max_tokens"] == 200
    # What we stored: usage yes, the key never.
    stored = await _stored_text(runtime, result["execution_id"])
    assert openai_env.api_key not in stored
    assert '"total_tokens"' in stored


async def test_json_reply_is_parsed(run_yaml: Any, openai_env: ChatCompletionsStandIn) -> None:
    openai_env.reply_with('```json\n{"status": "paid", "version": 2}\n```')
    result = await run_yaml(agent_workflow("response_format: json"), {"event": "x"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["content"] == {"status": "paid", "version": 2}
    assert openai_env.requests[0]["response_format"] == {"type": "json_object"}


async def test_json_schema_is_sent_and_enforced(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    schema = "response_format: {json_schema: {type: object, required: [status], properties: {status: {type: string}}}}"
    openai_env.reply_with('{"status": "shipped"}', '{"state": "shipped"}')
    ok = await run_yaml(agent_workflow(schema), {"event": "x"})
    assert ok["status"] == "succeeded", ok["error"]
    assert ok["output"]["content"] == {"status": "shipped"}
    sent = openai_env.requests[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"]["required"] == ["status"]
    bad = await run_yaml(agent_workflow(schema), {"event": "x"})
    assert bad["status"] == "failed"
    assert "does not match the schema" in bad["error"]["message"]
    assert '{"state": "shipped"}' in bad["error"]["message"]


async def test_unparsable_reply_is_an_error_with_the_raw_text(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    openai_env.reply_with("Sure! The status is paid.")
    result = await run_yaml(agent_workflow("response_format: json"), {"event": "x"})
    assert result["status"] == "failed"
    assert "not valid JSON" in result["error"]["message"]
    assert "Sure! The status is paid." in result["error"]["message"]


async def test_a_reply_cut_inside_the_key_it_repeats_keeps_none_of_it(
    run_yaml: Any, runtime: Any, openai_env: ChatCompletionsStandIn
) -> None:
    """The error quotes the reply's first 4000 characters: a model repeating the
    key at 3990 was cut inside it, and its beginning was stored in clear."""
    key = openai_env.api_key
    openai_env.reply_with("P" * 3990 + key)
    result = await run_yaml(agent_workflow("response_format: json"), {"event": "x"})
    assert result["status"] == "failed"
    assert result["error"]["message"].endswith("raw reply: " + "P" * 3990 + "***")
    stored = json.dumps(result) + await _stored_text(runtime, result["execution_id"])
    assert not [key[:n] for n in range(4, len(key) + 1) if key[:n] in stored]


async def test_missing_key_names_openai_api_key(
    run_yaml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = await run_yaml(agent_workflow(), {"event": "x"})
    assert result["status"] == "failed"
    assert "OPENAI_API_KEY" in result["error"]["message"]


async def test_wrong_key_is_a_clear_error_without_the_key(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-value")
    result = await run_yaml(agent_workflow(), {"event": "x"})
    assert result["status"] == "failed"
    assert "401" in result["error"]["message"]
    assert "sk-wrong-key-value" not in json.dumps(result)


async def test_base_url_and_api_key_from_config(
    run_yaml: Any, chat_standin: ChatCompletionsStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    chat_standin.model = "some-local-model"
    result = await run_yaml(
        agent_workflow(f"base_url: {chat_standin.base_url}\n            api_key: <input.key>"),
        {"event": "x", "key": chat_standin.api_key},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["model"] == "some-local-model"
    assert result["output"]["cost_usd"] == pytest.approx(cost_usd("gpt-4o-mini", *_tokens(result)))
    assert chat_standin.api_key not in json.dumps(result)


def _tokens(result: dict[str, Any]) -> tuple[int, int]:
    usage = result["output"]["usage"]
    return usage["prompt_tokens"], usage["completion_tokens"]


def test_cost_table() -> None:
    assert cost_usd("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost_usd("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert cost_usd("gpt-4o", 1_000_000, 0) == pytest.approx(2.5)
    assert cost_usd("llama-3-8b", 10, 10) is None


def _peer_workflow(url: str) -> str:
    return f"""
        name: agent_peer
        blocks:
          ask: {{type: agent, base_url: "{url}/v1", api_key: <input.key>, prompt: hi, retries: 2, retry_backoff: 0.01}}
        """


async def test_an_answer_that_is_no_chat_completion_is_a_clear_error(
    run_yaml: Any, recorder: Any
) -> None:
    """A proxy's 200 HTML page gave "'str' object has no attribute 'choices'"."""
    recorder.respond("/v1/chat/completions", Scripted(200, "<html>gateway</html>"))
    result = await run_yaml(_peer_workflow(recorder.url), {"key": "sk-x"})
    assert result["status"] == "failed" and result["error"]["type"] == "AgentError"
    assert "not a chat completion" in result["error"]["message"]
    assert "gateway" in result["error"]["message"]
    assert result["blocks"]["ask"]["attempts"] == 1  # a wrong base_url: retrying cannot help


async def test_a_reply_without_usage_has_no_usage(run_yaml: Any, recorder: Any) -> None:
    completion = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
        ],
    }
    recorder.respond("/v1/chat/completions", Scripted(200, completion))
    result = await run_yaml(_peer_workflow(recorder.url), {"key": "sk-x"})
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["content"] == "ok" and out["usage"] is None and out["cost_usd"] is None
    # A count that is no finite number (NaN made int() raise out of the block) is
    # unknown, and so is the cost: not 0 (tests/blocks/test_block_agent_replies.py).
    nan_usage = {"prompt_tokens": 3, "completion_tokens": float("nan"), "total_tokens": None}
    recorder.respond("/v1/chat/completions", Scripted(200, {**completion, "usage": nan_usage}))
    odd = await run_yaml(_peer_workflow(recorder.url), {"key": "sk-x"})
    assert odd["status"] == "succeeded", odd["error"]
    assert odd["output"]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": None,
        "total_tokens": None,
    }
    assert odd["output"]["cost_usd"] is None


async def test_a_prompt_that_is_one_reference_is_its_text(
    run_yaml: Any, openai_env: ChatCompletionsStandIn
) -> None:
    """`prompt: <input.event>` was sent as Python's text of it: `{'type': 'paid'}`."""
    wf = agent_workflow().replace('"Event: <input.event>"', "<input.event>")
    wf = wf.replace("system: You apply order events to a state.", "system: <input.strict>")
    result = await run_yaml(wf, {"event": {"type": "paid", "ok": True}, "strict": False})
    assert result["status"] == "succeeded", result["error"]
    [request] = openai_env.requests
    assert [m["content"] for m in request["messages"]] == ["false", '{"type":"paid","ok":true}']


def test_a_written_out_schema_that_is_none_fails_validation(tmp_path: Path) -> None:
    """`{json_schema: {type: objectt}}` passed validate; the run then paid for a model
    call and failed with a many-line dump of jsonschema's metaschema."""
    found = problems(
        tmp_path,
        """
name: agent_bad_schema
blocks:
  e: {type: agent, prompt: hi, response_format: {json_schema: {type: objectt}}}
  f:
    type: agent
    prompt: hi
    response_format: {json_schema: {name: r, schema: {properties: {a: {minLength: -1}}}}}
  g: {type: agent, prompt: hi, response_format: {required: yes}}
""",
    )
    file = tmp_path / "bad.yaml"
    assert found == [
        f"{file}: block 'e': field 'response_format.json_schema': not a valid JSON Schema: "
        "'objectt' is not valid under any of the given schemas (at type)",
        f"{file}: block 'f': field 'response_format.json_schema.schema': not a valid JSON "
        "Schema: -1 is less than the minimum of 0 (at properties.a.minLength)",
        f"{file}: block 'g': field 'response_format': not a valid JSON Schema: "
        "'yes' is not of type 'array' (at required)",
    ]


@pytest.mark.parametrize(
    "response_format",
    ["{json_schema: <input.schema>}", "{json_schema: {type: object, required: <input.req>}}"],
)
async def test_a_schema_from_a_reference_is_checked_before_the_model_is_called(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, response_format: str
) -> None:
    result = await run_yaml(
        agent_workflow(f"response_format: {response_format}\n            retries: 2"),
        {"event": "x", "schema": {"type": "objectt"}, "req": "id"},
    )
    assert result["status"] == "failed"
    assert openai_env.requests == []  # no paid call
    assert result["blocks"]["ask"]["attempts"] == 1
    message = result["error"]["message"]
    assert message.startswith("response_format.json_schema: not a valid JSON Schema: ")
    assert "\n" not in message


_SDK_LOAD_CHECK = """
import sys

import blocks  # every block type, as a flowyard command has them
from engine.model import load_file

load_file(sys.argv[1])  # a workflow without an Agent block: nothing of the SDK's
assert "openai" not in sys.modules, "the SDK is imported for a workflow that needs none"
load_file(sys.argv[2])
assert "openai" in sys.modules, "the SDK is not imported when the workflow is loaded"
import openai

loaded = set(sys.modules)
client = openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0)
client.chat.completions
print(sorted(set(sys.modules) - loaded))
"""


def test_the_sdk_is_set_up_when_the_workflow_is_loaded_not_in_the_timed_call(
    tmp_path: Path,
) -> None:
    """The first call in a process imported the SDK, and its HTTP transport when it
    built the client, inside the block's `timeout`: 0.5-1 s before any request, so
    `timeout: 1` timed out against a server answering at once. A fresh process, as
    this one has imported the SDK already."""
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: plain\nblocks:\n  f: {type: function, code: 'return 1'}\n")
    agent = tmp_path / "agent.yaml"
    agent.write_text("name: agent\nblocks:\n  ask: {type: agent, prompt: hi}\n")
    done = subprocess.run(
        [sys.executable, "-c", _SDK_LOAD_CHECK, str(plain), str(agent)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"  # building the client as run() does imports nothing


async def test_a_schema_reaching_outside_itself_is_refused_and_nothing_is_fetched(
    run_yaml: Any, openai_env: ChatCompletionsStandIn, recorder: RecordingServer
) -> None:
    """A `$ref` to a URL in a schema from the run's input (a webhook body) was fetched by
    jsonschema with urllib, without a time limit, on the engine's loop: any URL the
    sender named was requested, and one that never answered froze every run."""
    schema = {"$ref": f"{recorder.url}/schema.json"}
    result = await run_yaml(
        agent_workflow("response_format: {json_schema: <input.schema>}"),
        {"event": "x", "schema": schema},
    )
    assert result["status"] == "failed"
    assert "points outside the schema" in result["error"]["message"]
    assert recorder.requests == [] and openai_env.requests == []  # nothing fetched or paid
    # A reference inside the schema is read as before.
    local = {
        "$defs": {"status": {"type": "string"}},
        "type": "object",
        "properties": {"status": {"$ref": "#/$defs/status"}},
        "required": ["status"],
    }
    openai_env.reply_with('{"status": 7}')
    bad = await run_yaml(
        agent_workflow("response_format: {json_schema: <input.schema>}"),
        {"event": "x", "schema": local},
    )
    assert "does not match the schema at status" in bad["error"]["message"]


def test_a_written_out_schema_reaching_outside_itself_fails_validation(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
name: t
blocks:
  a: {type: manual, input_schema: {$ref: "http://127.0.0.1:9/in.json"}}
  e:
    type: agent
    prompt: hi
    response_format: {json_schema: {type: object, properties: {x: {$ref: "other.json"}}}}
edges: [a -> e]
""",
    )
    assert [p.split(": ", 1)[1] for p in found] == [
        "block 'a': field 'input_schema': $ref 'http://127.0.0.1:9/in.json' points outside"
        " the schema: only references inside it (#/$defs/…) are read, nothing is fetched",
        "block 'e': field 'response_format.json_schema': $ref 'other.json' points outside"
        " the schema: only references inside it (#/$defs/…) are read, nothing is fetched",
    ]
