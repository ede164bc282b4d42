"""Secrets never reach run records, logs or results (SPEC: Run model, references).

Each test runs a real workflow on the embedded PostgreSQL, against a stand-in peer
on 127.0.0.1 where one is needed, and looks for the secret in every place a run
leaves text: the live result, the stored run row and every stored run event.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from standins.recording import RecordingServer, Scripted

from engine.runtime import Runtime


@pytest.fixture
def peer() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


async def recorded_text(runtime: Runtime, result: dict[str, Any]) -> str:
    """Everything a run left behind, as text: the live result, the run row and its events."""
    eid = result["execution_id"]
    rows = await runtime.db.pool.fetch(
        "SELECT data::text AS d FROM flowyard_run_events WHERE execution_id = $1::uuid", eid
    )
    row = await runtime.db.pool.fetchrow(
        "SELECT input::text AS i, output::text AS o, error::text AS e"
        " FROM flowyard_runs WHERE execution_id = $1::uuid",
        eid,
    )
    stored = [r["d"] for r in rows] + [row["i"] or "", row["o"] or "", row["e"] or ""]
    return "\n".join([json.dumps(result, ensure_ascii=False, default=str), *stored])


def encodings(secret: str) -> set[str]:
    """The secret as a value may hold it (as is, JSON-escaped, Python-quoted,
    percent-encoded), each also as JSON text holds that."""
    inner = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    return {
        f for s in inner for f in (s, json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1])
    }


def assert_absent(secret: str, text: str) -> None:
    for form in encodings(secret):
        assert form not in text, f"{form!r} leaked"


# -- blocks that fail before they redact their own inputs --------------------------------


async def test_http_block_failing_on_its_url_keeps_a_literal_credential_header_out(
    run_yaml: Any, runtime: Runtime
) -> None:
    credential = "Bearer literal-credential-4f1c"
    # The scheme from the input: a url written out as ftp:// is refused by validation.
    result = await run_yaml(
        f"""
        name: http_bad_scheme
        blocks:
          start: {{type: manual}}
          call:
            type: http
            url: <start.scheme>://example.com/upload
            headers: {{Authorization: "{credential}"}}
        edges: [start -> call]
        """,
        {"scheme": "ftp"},
    )
    assert result["status"] == "failed"
    assert "http://" in result["error"]["message"]
    assert_absent("literal-credential-4f1c", await recorded_text(runtime, result))


async def test_http_block_keeps_vendor_token_headers_out_of_its_inputs(
    run_yaml: Any, runtime: Runtime, peer: RecordingServer
) -> None:
    """Not only Authorization: GitLab's API takes PRIVATE-TOKEN, others X-Auth-Token."""
    result = await run_yaml(
        f"""
        name: http_vendor_token
        blocks:
          call:
            type: http
            url: {peer.url}/projects
            headers: {{PRIVATE-TOKEN: glpat-literal-7f3e, X-Auth-Token: xat-literal-51bd}}
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert peer.requests_to("/projects")[0].headers["private-token"] == "glpat-literal-7f3e"
    text = await recorded_text(runtime, result)
    assert_absent("glpat-literal-7f3e", text)
    assert_absent("xat-literal-51bd", text)


async def test_slack_url_without_a_scheme_is_kept_out_of_the_record(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The webhook URL is the credential, however it is (mis)written. Starting with a
    reference, it is checked when the block runs (written out, validation refuses it,
    quoting only what it starts with)."""
    monkeypatch.setenv("FLOWYARD_SLACK_HOST", "hooks.example.com")
    url = "<env.FLOWYARD_SLACK_HOST>/services/T0AB/B0CD/SlackCredential9a7"
    result = await run_yaml(
        f"""
        name: slack_no_scheme
        blocks:
          alert: {{type: slack, webhook_url: "{url}", text: hi}}
        """
    )
    assert result["status"] == "failed"
    assert_absent("SlackCredential9a7", await recorded_text(runtime, result))


async def test_http_url_error_does_not_quote_part_of_a_long_secret(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message cut short after a secret started would carry a prefix the redactor
    cannot recognise as the secret."""
    secret = "tok" + "0123456789abcdef" * 6
    monkeypatch.setenv("FLOWYARD_LEAK_TOKEN", secret)
    result = await run_yaml(
        """
        name: http_long_secret
        blocks:
          start: {type: manual}
          call:
            type: http
            url: <start.scheme>://example.com/?token=<env.FLOWYARD_LEAK_TOKEN>
        edges: [start -> call]
        """,
        {"scheme": "ftp"},
    )
    assert result["status"] == "failed"
    assert_absent(secret[:24], await recorded_text(runtime, result))


# -- encodings of a secret -------------------------------------------------------------

SECRETS = ["pässwort geheim 42", 'quote"and\\backslash-4a9']
SECRET_IDS = ["non-ascii-and-space", "quote-and-backslash"]


@pytest.mark.parametrize("secret", SECRETS, ids=SECRET_IDS)
async def test_secret_in_the_url_path_of_a_failed_request_is_redacted(
    run_yaml: Any, runtime: Runtime, peer: RecordingServer, monkeypatch: pytest.MonkeyPatch,
    secret: str,
) -> None:  # fmt: skip
    """httpx percent-encodes the path; the error quotes the URL as sent."""
    monkeypatch.setenv("FLOWYARD_LEAK_KEY", secret)
    peer.respond(f"/keys/{secret}", Scripted(404, "no such key"))
    result = await run_yaml(
        f"""
        name: http_path_secret
        blocks:
          call:
            type: http
            url: {peer.url}/keys/<env.FLOWYARD_LEAK_KEY>
        """
    )
    assert result["status"] == "failed"
    assert "404" in result["error"]["message"]
    sent = httpx.URL(f"{peer.url}/keys/{secret}").raw_path.decode()  # as httpx encodes it
    text = await recorded_text(runtime, result)
    assert_absent(secret, text)
    assert_absent(sent.removeprefix("/keys/"), text)


@pytest.mark.parametrize("secret", SECRETS, ids=SECRET_IDS)
async def test_secret_echoed_in_a_json_error_body_is_redacted(
    run_yaml: Any, runtime: Runtime, peer: RecordingServer, monkeypatch: pytest.MonkeyPatch,
    secret: str,
) -> None:  # fmt: skip
    """A peer that quotes the key it refused, in JSON: the error's excerpt re-encodes it."""
    monkeypatch.setenv("FLOWYARD_LEAK_KEY", secret)
    peer.respond("/charge", Scripted(401, {"error": f"unknown key {secret}"}))
    result = await run_yaml(
        f"""
        name: http_echo_secret
        blocks:
          call:
            type: http
            method: POST
            url: {peer.url}/charge
            json: {{key: <env.FLOWYARD_LEAK_KEY>}}
        """
    )
    assert result["status"] == "failed"
    assert "401" in result["error"]["message"]
    assert_absent(secret, await recorded_text(runtime, result))


@pytest.mark.parametrize("secret", SECRETS, ids=SECRET_IDS)
async def test_secret_inside_json_text_a_function_returns_is_redacted(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    """A JSON document as a string value (a body to sign, a payload to queue)."""
    monkeypatch.setenv("FLOWYARD_LEAK_KEY", secret)
    result = await run_yaml(
        """
        name: fn_json_secret
        blocks:
          build:
            type: function
            code: |
              import json
              print(json.dumps({"key": <env.FLOWYARD_LEAK_KEY>}))
              return {"payload": json.dumps({"key": <env.FLOWYARD_LEAK_KEY>})}
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert_absent(secret, await recorded_text(runtime, result))


@pytest.mark.parametrize("secret", SECRETS, ids=SECRET_IDS)
async def test_secret_quoted_by_a_function_exception_is_redacted(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    """``KeyError`` (and ``{x!r}``) quote a value as Python source: ``\\`` doubled."""
    monkeypatch.setenv("FLOWYARD_LEAK_KEY", secret)
    result = await run_yaml(
        """
        name: fn_raise_secret
        blocks:
          lookup:
            type: function
            code: |
              return {"v": {}[<env.FLOWYARD_LEAK_KEY>]}
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["type"] == "KeyError"
    assert_absent(secret, await recorded_text(runtime, result))


# -- database --------------------------------------------------------------------------


async def test_a_secret_in_sql_is_a_bind_parameter_redacted_in_the_inputs(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "db-secret-value-7d2e"
    monkeypatch.setenv("FLOWYARD_LEAK_KEY", secret)
    result = await run_yaml(
        """
        name: db_secret_param
        blocks:
          q:
            type: database
            query: SELECT '<env.FLOWYARD_LEAK_KEY>' AS k, 'Bearer <env.FLOWYARD_LEAK_KEY>' AS h
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["k"] == "***" and result["output"]["h"] == "Bearer ***"
    events = await runtime.run_events(result["execution_id"])
    [done] = [e for e in events if e["type"] == "block_succeeded"]
    assert done["data"]["inputs"]["params"] == ["***", "***"]  # one per occurrence
    assert "$1" in done["data"]["inputs"]["sql"] and "<env." not in done["data"]["inputs"]["sql"]
    assert_absent(secret, await recorded_text(runtime, result))


async def test_a_database_error_message_never_quotes_a_parameter_value(
    run_yaml: Any, runtime: Runtime
) -> None:
    """The server's own message (not only its detail) may quote the value it refused."""
    value = "4111-1111-1111-1111"
    result = await run_yaml(
        """
        name: db_message_value
        blocks:
          q:
            type: database
            query: SELECT ('<input.card>' || '')::int AS n
        """,
        {"card": value},
    )
    assert result["status"] == "failed"
    assert "invalid input syntax" in result["error"]["message"]
    assert value not in result["error"]["message"]


# -- retries, containers, re-runs ------------------------------------------------------


async def test_retries_loop_bodies_and_reruns_keep_the_secret_out(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk_retry_loop_rerun_91b3"
    monkeypatch.setenv("FLOWYARD_LEAK_KEY", secret)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await run_yaml(
        f"""
        name: retry_loop_secret
        blocks:
          each:
            type: loop
            items: [1, 2]
            body: [sign]
          sign:
            type: function
            code: |
              print(<env.FLOWYARD_LEAK_KEY>)
              return {{"sig": <env.FLOWYARD_LEAK_KEY> + str(<item>)}}
          call:
            type: http
            url: http://127.0.0.1:{port}/?key=<env.FLOWYARD_LEAK_KEY>
            retries: 1
            retry_backoff: 0.01
        edges:
          - each -> call
        """
    )
    assert result["status"] == "failed"
    events = await runtime.run_events(result["execution_id"])
    assert any(e["type"] == "block_retrying" for e in events)
    assert any(e["block"] == "each[1].sign" for e in events)
    assert_absent(secret, await recorded_text(runtime, result))
    again = await runtime.rerun(result["execution_id"])
    rerun = await runtime.wait(again.execution_id)
    assert rerun["blocks"]["each"]["status"] == "succeeded"
    assert_absent(secret, await recorded_text(runtime, rerun))


async def test_an_invalid_url_error_does_not_quote_part_of_a_password(
    run_yaml: Any, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``#`` in an unencoded password ends the URL's authority there: httpx then
    refuses the rest as a port, quoting it (``Invalid port: 's3cret'``)."""
    secret = "s3cret#rest-of-it"
    monkeypatch.setenv("FLOWYARD_LEAK_PW", secret)
    result = await run_yaml(
        """
        name: http_invalid_url_secret
        blocks:
          call:
            type: http
            url: http://svc:<env.FLOWYARD_LEAK_PW>@127.0.0.1/x
        """
    )
    assert result["status"] == "failed"
    assert "invalid URL" in result["error"]["message"]
    assert "s3cret" not in await recorded_text(runtime, result)


# -- keys read from the environment by blocks themselves ------------------------------


async def test_an_agent_key_echoed_by_the_provider_is_redacted(
    run_yaml: Any, runtime: Runtime, peer: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENAI_API_KEY is no <env.…> reference: the block itself registers it."""
    key = "sk-agent-leak-0c9e77"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    peer.respond(
        "/v1/chat/completions",
        Scripted(401, {"error": {"message": f"Incorrect API key provided: {key}"}}),
    )
    result = await run_yaml(
        f"""
        name: agent_key_echo
        blocks:
          ask:
            type: agent
            base_url: {peer.url}/v1
            prompt: hello
        """
    )
    assert result["status"] == "failed"
    assert "401" in result["error"]["message"]
    assert_absent(key, await recorded_text(runtime, result))
