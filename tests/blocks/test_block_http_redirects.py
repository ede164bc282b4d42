"""What a followed redirect carries: a GET made of a POST no body headers, and a
redirect to another origin none of the credentials the block knows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from standins.recording import RecordingServer, Scripted

CREDENTIALS = {"Authorization": "Bearer sk_1", "X-Api-Key": "k_1", "X-Gitlab-Token": "g_1"}


@pytest.fixture
def elsewhere() -> Iterator[RecordingServer]:
    """Another origin (another port) a redirect can point to."""
    with RecordingServer() as server:
        yield server


def post_to(url: str) -> str:
    headers = ", ".join(f"{k}: {v}" for k, v in CREDENTIALS.items())
    return f"""
        name: http_redirect
        blocks:
          call:
            type: http
            method: POST
            url: {url}
            headers: {{{headers}}}
            json: {{amount: 1}}
        """


@pytest.mark.parametrize("status", [302, 303])
async def test_the_get_after_a_redirected_post_has_no_body_headers(
    run_yaml: Any, recorder: RecordingServer, status: int
) -> None:
    """The GET kept `Content-Type: application/json` and the `Idempotency-Key`."""
    recorder.respond("/start", Scripted(status, "", {"Location": "/next"}))
    recorder.respond("/next", Scripted(200, {"done": True}))
    result = await run_yaml(post_to(f"{recorder.url}/start"))
    assert result["status"] == "succeeded", result["error"]
    first, then = recorder.requests
    assert (first.method, then.method, then.path, then.body) == ("POST", "GET", "/next", b"")
    assert first.headers["content-type"] == "application/json"
    assert "idempotency-key" in first.headers
    assert "content-type" not in then.headers and "idempotency-key" not in then.headers
    # The same origin: its credentials go along.
    assert then.headers["x-api-key"] == "k_1" and then.headers["authorization"] == "Bearer sk_1"


async def test_a_307_keeps_the_method_the_body_and_its_headers(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    recorder.respond("/start", Scripted(307, "", {"Location": "/next"}))
    recorder.respond("/next", Scripted(200, {"done": True}))
    result = await run_yaml(post_to(f"{recorder.url}/start"))
    assert result["status"] == "succeeded", result["error"]
    first, then = recorder.requests
    assert (then.method, then.json) == ("POST", {"amount": 1})
    for name in ("content-type", "idempotency-key", "x-api-key", "authorization"):
        assert then.headers[name] == first.headers[name]


@pytest.mark.parametrize("status", [302, 308])
async def test_a_redirect_to_another_origin_sends_none_of_the_credentials(
    run_yaml: Any, recorder: RecordingServer, elsewhere: RecordingServer, status: int
) -> None:
    """httpx drops `Authorization` only: `X-Api-Key` and the like went along."""
    recorder.respond("/start", Scripted(status, "", {"Location": f"{elsewhere.url}/next"}))
    elsewhere.respond("/next", Scripted(200, {"done": True}))
    result = await run_yaml(post_to(f"{recorder.url}/start"))
    assert result["status"] == "succeeded", result["error"]
    [first] = recorder.requests
    [then] = elsewhere.requests
    assert all(first.headers[name.lower()] == value for name, value in CREDENTIALS.items())
    assert not {name.lower() for name in CREDENTIALS} & set(then.headers)
    assert then.method == ("POST" if status == 308 else "GET")


async def test_redirects_past_the_limit_are_a_final_error(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    recorder.respond("/loop", Scripted(302, "", {"Location": "/loop"}))
    result = await run_yaml(
        f"""
        name: http_redirect_loop
        blocks:
          call: {{type: http, url: "{recorder.url}/loop", retries: 2, retry_backoff: 0.01}}
        """
    )
    assert result["status"] == "failed"
    assert "redirect" in result["error"]["message"]
    assert result["blocks"]["call"]["attempts"] == 1


async def test_the_request_a_redirect_makes_is_not_sent_chunked(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """The GET after a redirect went out with `Transfer-Encoding: chunked` and an empty
    chunked body (its body stream unread): a server that refuses a GET with a body
    broke the connection, and the block failed."""
    recorder.respond("/start", Scripted(302, "", {"Location": "/next"}))
    recorder.respond("/next", Scripted(200, {"done": True}))
    get = f"""
        name: http_redirect_get
        blocks:
          call: {{type: http, url: "{recorder.url}/start"}}
        """
    result = await run_yaml(get)
    assert result["status"] == "succeeded", result["error"]
    first, then = recorder.requests
    assert (first.path, then.path, then.body) == ("/start", "/next", b"")
    for request in (first, then):
        assert "transfer-encoding" not in request.headers, request.headers


async def test_an_answer_that_cannot_be_read_is_the_blocks_own_error(run_yaml: Any) -> None:
    """A malformed answer failed the block with aiohttp's `ClientResponseError`, not
    the retriable `HttpError` every other transport failure is."""
    import asyncio

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}extra")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await run_yaml(
            f"""
            name: http_malformed
            blocks:
              call: {{type: http, url: "http://127.0.0.1:{port}/x"}}
            """
        )
    assert result["status"] == "failed"
    error = result["error"]
    assert (error["type"], error["block"]) == ("HttpError", "call"), error
    assert "RemoteProtocolError" in error["message"]


SECRET_HEADERS = """
name: http_redirect_secret_headers
blocks:
  call:
    type: http
    method: POST
    url: {url}
    headers:
      X-Auth-Key: <env.FY_REDIRECT_KEY>
      Ocp-Apim-Subscription-Key: "sub <env.FY_REDIRECT_KEY>"
      X-Source: flowyard
    json: {{amount: 1}}
"""


@pytest.mark.parametrize("status", [302, 307])
async def test_a_redirect_to_another_origin_sends_no_header_holding_a_secret(
    run_yaml: Any,
    recorder: RecordingServer,
    elsewhere: RecordingServer,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    """A key in a header of a name the block does not know as a credential
    (Cloudflare's `X-Auth-Key`, Azure's `Ocp-Apim-Subscription-Key`) went along to
    whatever host the redirect named: it holds an `<env.…>` value, a secret."""
    monkeypatch.setenv("FY_REDIRECT_KEY", "cf_redirect_key_4242")
    recorder.respond("/start", Scripted(status, "", {"Location": f"{elsewhere.url}/next"}))
    recorder.respond("/here", Scripted(status, "", {"Location": "/next"}))
    recorder.respond("/next", Scripted(200, {"done": True}))
    elsewhere.respond("/next", Scripted(200, {"done": True}))
    for path in ("/start", "/here"):
        result = await run_yaml(SECRET_HEADERS.format(url=f"{recorder.url}{path}"))
        assert result["status"] == "succeeded", result["error"]
    first, _, same_origin = recorder.requests
    [other_origin] = elsewhere.requests
    assert first.headers["x-auth-key"] == "cf_redirect_key_4242"
    assert first.headers["ocp-apim-subscription-key"] == "sub cf_redirect_key_4242"
    assert "x-auth-key" not in other_origin.headers
    assert "ocp-apim-subscription-key" not in other_origin.headers
    assert other_origin.headers["x-source"] == "flowyard"  # no secret in it: it goes along
    # The same origin is the peer the key was meant for: it goes along.
    assert same_origin.headers["x-auth-key"] == "cf_redirect_key_4242"
