"""A URL read from a secret (``url: <env.HOOK_URL>``, Slack's ``webhook_url``)
appears in no part in a failed request's error (real embedded PostgreSQL, peers
on 127.0.0.1).

Errors name a request's URL without its query (a key often rides there). For a
webhook URL with a query (``…/api/webhooks/123/<token>?wait=true``), what was
left was no longer the secret's text: redaction kept the path, and with it the
token, in clear, in the records and in the message a later block wrote elsewhere.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from standins.recording import RecordingServer, Scripted
from test_secret_leaks import recorded_text

from engine.runtime import Runtime

TOKEN = "DiscordTok999"
HOOK_PATH = f"/api/webhooks/123/{TOKEN}"

#: The failing block, then one writing its error message to a table, where no
#: run-record redaction reaches (as the Order Processing template does).
KEPT = """
name: secret_url_{name}
blocks:
  call: {{on_error: continue, {call}}}
  keep:
    type: database
    query: INSERT INTO {table} (message) VALUES ('<call.error.message>')
edges: [call.error -> keep]
"""

CALLS = {
    "http": 'type: http, method: POST, url: "<env.FY_HOOK_URL>", json: {a: 1}',
    "http_query": 'type: http, url: "<env.FY_HOOK_URL>", query: {page: 2}',
    "slack": 'type: slack, webhook_url: "<env.FY_HOOK_URL>", text: hi',
}


def closed_port() -> int:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def kept_message(runtime: Runtime, table: str, result: dict[str, Any]) -> str:
    assert result["status"] == "succeeded", result["error"]
    return await runtime.db.pool.fetchval(f"SELECT message FROM {table}")


async def assert_no_part_of_the_url(runtime: Runtime, result: dict[str, Any], kept: str) -> None:
    for text in (kept, await recorded_text(runtime, result)):
        assert TOKEN not in text and "/api/webhooks" not in text, text


@pytest.fixture
async def kept_table(runtime: Runtime, table: str) -> AsyncIterator[str]:
    await runtime.db.pool.execute(f"CREATE TABLE {table} (message text)")
    yield table


@pytest.mark.parametrize("call", ["http", "http_query"])
async def test_a_secret_url_answered_with_a_failing_status_is_named_redacted(
    run_yaml: Any, runtime: Runtime, kept_table: str, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    with RecordingServer() as peer:
        peer.respond(HOOK_PATH, Scripted(404, "no such hook"))
        monkeypatch.setenv("FY_HOOK_URL", f"{peer.url}{HOOK_PATH}?wait=true")
        result = await run_yaml(KEPT.format(name=call, call=CALLS[call], table=kept_table))
        assert [r.path for r in peer.requests] == [HOOK_PATH]  # sent whole
    kept = await kept_message(runtime, kept_table, result)
    assert kept.startswith(("POST *** returned 404: ", "GET *** returned 404: ")), kept
    await assert_no_part_of_the_url(runtime, result, kept)


@pytest.mark.parametrize("call", ["http", "http_query", "slack"])
async def test_a_secret_url_that_cannot_be_reached_is_named_redacted(
    run_yaml: Any, runtime: Runtime, kept_table: str, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    monkeypatch.setenv("FY_HOOK_URL", f"http://127.0.0.1:{closed_port()}{HOOK_PATH}?wait=true")
    result = await run_yaml(KEPT.format(name=f"{call}_closed", call=CALLS[call], table=kept_table))
    kept = await kept_message(runtime, kept_table, result)
    assert kept.startswith(("POST ***: ConnectError: ", "GET ***: ConnectError: ")), kept
    await assert_no_part_of_the_url(runtime, result, kept)


async def test_a_secret_url_whose_answer_cannot_be_read_is_named_redacted(
    run_yaml: Any, runtime: Runtime, kept_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiohttp's own words quote the URL it could not read the answer of."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setenv("FY_HOOK_URL", f"http://127.0.0.1:{port}{HOOK_PATH}?wait=true")
    async with server:
        result = await run_yaml(KEPT.format(name="unread", call=CALLS["http"], table=kept_table))
    kept = await kept_message(runtime, kept_table, result)
    assert kept.startswith("POST ***: RemoteProtocolError: "), kept
    await assert_no_part_of_the_url(runtime, result, kept)
