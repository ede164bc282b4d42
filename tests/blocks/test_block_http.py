"""HTTP blocks against a recording stand-in server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from processes import free_port
from standins.recording import RecordingServer, Scripted


def capture_workflow(url: str, extra: str = "") -> str:
    return f"""
        version: 1
        name: http_capture
        blocks:
          capture:
            type: http
            method: POST
            url: {url}/v1/charges/<input.charge_id>/capture
            headers: {{Authorization: "Bearer <input.token>"}}
            json: {{amount: <input.amount>}}
            {extra}
        """


async def test_post_sends_json_and_a_stable_idempotency_key(
    run_yaml: Any, recorder: RecordingServer, runtime: Any
) -> None:
    recorder.respond("/v1/charges/ch_1/capture", Scripted(200, {"id": "ch_1", "captured": True}))
    result = await run_yaml(
        capture_workflow(recorder.url), {"charge_id": "ch_1", "token": "sk_x", "amount": 1250}
    )
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["status"] == 200 and out["ok"] is True
    assert out["body"] == {"id": "ch_1", "captured": True}
    assert out["headers"]["content-type"] == "application/json"
    [req] = recorder.requests
    assert req.method == "POST" and req.json == {"amount": 1250}
    assert req.headers["authorization"] == "Bearer sk_x"
    assert req.headers["idempotency-key"] == f"{result['execution_id']}:capture"
    # A credential that did not come from <env.…> is still kept out of the run record.
    events = await runtime.run_events(result["execution_id"])
    inputs = [e for e in events if e.get("type") == "block_succeeded"][0]["data"]["inputs"]
    assert inputs["headers"]["Authorization"] == "[redacted]"
    assert inputs["json"] == {"amount": 1250}


async def test_a_cookie_one_run_receives_is_never_sent_by_another(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """The runtime's client is shared by every run of every workflow: a session
    cookie a peer sets for one run must not ride along on the next run's request."""
    recorder.respond(
        "/v1/charges/ch_c/capture",
        Scripted(200, {"id": "ch_c"}, {"Set-Cookie": "session=run-one-secret; Path=/"}),
        Scripted(200, {"id": "ch_c"}),
    )
    for token in ("sk_one", "sk_two"):
        result = await run_yaml(
            capture_workflow(recorder.url), {"charge_id": "ch_c", "token": token, "amount": 1}
        )
        assert result["status"] == "succeeded", result["error"]
    first, second = recorder.requests
    assert first.headers["authorization"] == "Bearer sk_one"
    assert "cookie" not in second.headers


async def test_credentials_in_the_url_are_sent_as_basic_auth(
    run_yaml: Any, recorder: RecordingServer, runtime: Any
) -> None:
    """`https://user:password@host/…` is how many APIs take basic auth."""
    import base64

    recorder.respond("/v1/charges/ch_u/capture", Scripted(200, {"id": "ch_u"}))
    url = recorder.url.replace("http://", "http://shop%40example:p%23ss@")
    wf = capture_workflow(url).replace('headers: {Authorization: "Bearer <input.token>"}', "")
    result = await run_yaml(wf, {"charge_id": "ch_u", "token": "unused", "amount": 1})
    assert result["status"] == "succeeded", result["error"]
    [req] = recorder.requests
    expected = base64.b64encode(b"shop@example:p#ss").decode()
    assert req.headers["authorization"] == f"Basic {expected}"
    stored = await runtime.run_result(result["execution_id"])
    recorded = stored["blocks"]["capture"]["inputs"]["url"]
    assert recorded.startswith("http://[redacted]@127.0.0.1:") and "p%23ss" not in recorded


async def test_retries_on_503_keep_the_idempotency_key_and_honour_retry_after(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    recorder.respond(
        "/v1/charges/ch_2/capture",
        Scripted(503, {"error": "busy"}, {"Retry-After": "1"}),
        Scripted(200, {"captured": True}),
    )
    started = time.monotonic()
    result = await run_yaml(
        capture_workflow(recorder.url, "retries: 2\n            retry_backoff: 0.01"),
        {"charge_id": "ch_2", "token": "t", "amount": 1},
    )
    elapsed = time.monotonic() - started
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["capture"]["attempts"] == 2
    keys = {r.headers["idempotency-key"] for r in recorder.requests}
    assert (
        len(recorder.requests) == 2 and len(keys) == 1
    )  # the retry is the same request to the peer
    assert elapsed >= 0.9  # waited for Retry-After, not just the 10 ms backoff


async def test_4xx_fails_without_retrying(run_yaml: Any, recorder: RecordingServer) -> None:
    recorder.respond(
        "/v1/charges/ch_3/capture", Scripted(402, {"error": {"message": "card declined"}})
    )
    result = await run_yaml(
        capture_workflow(recorder.url, "retries: 3\n            retry_backoff: 0.01"),
        {"charge_id": "ch_3", "token": "t", "amount": 1},
    )
    assert result["status"] == "failed"
    assert "402" in result["error"]["message"] and "card declined" in result["error"]["message"]
    assert len(recorder.requests) == 1


async def test_fail_on_status_false_returns_the_response(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    recorder.respond("/missing", Scripted(404, "nope"))
    result = await run_yaml(
        f"""
        version: 1
        name: http_404
        blocks:
          get:
            type: http
            url: {recorder.url}/missing
            query: {{page: 2, q: <input.q>}}
            fail_on_status: false
        """,
        {"q": "a b"},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["status"] == 404 and result["output"]["ok"] is False
    assert result["output"]["body"] == "nope"
    [req] = recorder.requests
    assert req.method == "GET" and req.query == {"page": "2", "q": "a b"}
    assert "idempotency-key" not in req.headers  # GET is safe to repeat


async def test_form_body_and_own_idempotency_key(run_yaml: Any, recorder: RecordingServer) -> None:
    result = await run_yaml(
        f"""
        version: 1
        name: http_form
        blocks:
          post:
            type: http
            method: POST
            url: {recorder.url}/form
            headers: {{Idempotency-Key: "order-<input.id>"}}
            form: {{id: <input.id>, note: hello}}
        """,
        {"id": 7},
    )
    assert result["status"] == "succeeded", result["error"]
    [req] = recorder.requests
    assert req.text == "id=7&note=hello"
    assert req.headers["idempotency-key"] == "order-7"


async def test_query_lists_repeat_the_parameter(run_yaml: Any, recorder: RecordingServer) -> None:
    # A list was sent as Python's text of it: ?l=[1, 2].
    result = await run_yaml(
        f"""
        name: http_query
        blocks:
          get:
            type: http
            url: {recorder.url}/q?pre=1
            query: {{l: [1, "a b", null], flag: true, obj: {{k: 1}}, gone: null}}
        """
    )
    assert result["status"] == "succeeded", result["error"]
    [req] = recorder.requests
    # The url's own query kept (query: had replaced it); a null left out, in a list too.
    assert req.raw_query == "pre=1&l=1&l=a+b&flag=true&obj=%7B%22k%22:1%7D"


async def test_query_adds_to_the_urls_own_parameters_of_the_same_name(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """docs/blocks/http.md: `query` is added to the url's own query. A parameter of
    the same name replaced the url's one (httpx's merge): `?a=1` went out as `?a=3`."""
    result = await run_yaml(
        f"""
        name: http_query_same_name
        blocks:
          get:
            type: http
            url: {recorder.url}/echo/q?a=1&b=two
            query: {{a: 3, c: "x y&z"}}
        """
    )
    assert result["status"] == "succeeded", result["error"]
    [req] = recorder.requests
    assert req.raw_query == "a=1&b=two&a=3&c=x+y%26z"


async def test_query_leaves_the_urls_own_query_as_written(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """The url's own query is sent as written (a signed url's signature covers its
    exact text): not parsed and encoded again, which turned a bare `flag` into `flag=`."""
    result = await run_yaml(
        f"""
        name: http_query_own_text
        blocks:
          get:
            type: http
            url: {recorder.url}/q?flag&sig=a%20b#part
            query: {{n: 1}}
        """
    )
    assert result["status"] == "succeeded", result["error"]
    [req] = recorder.requests
    assert req.raw_query == "flag&sig=a%20b&n=1"


async def test_connection_refused_is_retried_then_fails(run_yaml: Any) -> None:
    port = free_port()  # nobody listens on it
    result = await run_yaml(
        f"""
        version: 1
        name: http_refused
        blocks:
          get:
            type: http
            url: http://127.0.0.1:{port}/
            retries: 2
            retry_backoff: 0.01
        """
    )
    assert result["status"] == "failed"
    assert result["blocks"]["get"]["attempts"] == 3
    assert "ConnectError" in result["error"]["message"]


@pytest.fixture
def silent_peer() -> Iterator[tuple[str, list[socket.socket]]]:
    """A TCP peer that accepts connections and reads requests; the test decides
    whether it ever answers (never) or hangs up (close the accepted sockets)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                conn.recv(65536)
                accepted.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    server.close()
    for conn in accepted:
        conn.close()


def _get(url: str, extra: str) -> str:
    return f"""
        version: 1
        name: http_peer
        blocks:
          get:
            type: http
            url: {url}/
            retries: 1
            retry_backoff: 0.01
            {extra}
        """


async def test_a_peer_that_never_answers_times_out_and_is_retried(
    run_yaml: Any, silent_peer: tuple[str, list[socket.socket]]
) -> None:
    url, _ = silent_peer
    result = await run_yaml(_get(url, "timeout: 0.3"))
    assert result["status"] == "failed"
    assert result["blocks"]["get"]["attempts"] == 2
    assert "timed out" in result["error"]["message"]


async def test_a_peer_that_hangs_up_is_a_network_error_not_a_timeout(
    run_yaml: Any, silent_peer: tuple[str, list[socket.socket]]
) -> None:
    url, accepted = silent_peer

    async def hang_up() -> None:
        while True:
            while accepted:
                accepted.pop().close()
            await asyncio.sleep(0.01)

    closer = asyncio.create_task(hang_up())
    try:
        result = await run_yaml(_get(url, "timeout: 5"))
    finally:
        closer.cancel()
    assert result["status"] == "failed"
    assert result["blocks"]["get"]["attempts"] == 2
    assert "timed out" not in result["error"]["message"]
    assert "Error" in result["error"]["message"]


async def test_on_error_continue_takes_the_error_port(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    recorder.respond("/down", Scripted(500, "boom"))
    result = await run_yaml(
        f"""
        version: 1
        name: http_error_port
        blocks:
          call:
            type: http
            method: POST
            url: {recorder.url}/down
            on_error: continue
          handled:
            type: function
            code: |
              return {{"handled": True}}
        edges:
          - call.error -> handled
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"handled": True}


async def test_requests_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from engine._http import new_client

    request_lines: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_lines.append((await reader.readline()).decode().strip())
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    client = new_client()
    try:
        response = await client.get("http://shop.invalid/orders")
    finally:
        await client.aclose()
        server.close()
    assert (response.status_code, response.text) == (200, "ok")
    assert request_lines == ["GET http://shop.invalid/orders HTTP/1.1"]


def test_proxy_variables_become_httpx_mounts_once() -> None:
    from engine._http import proxy_mounts

    env = {"https": "http://proxy:3128", "no": "localhost, .internal,10.0.0.1,shop.test"}
    assert proxy_mounts(env) == {
        "https://": "http://proxy:3128",
        "all://localhost": None,
        "all://*.internal": None,
        "all://10.0.0.1": None,
        "all://*shop.test": None,
    }
    assert proxy_mounts({"http": "http://proxy:1", "no": "*"}) == {}


def test_retry_after_is_left_to_the_engine_and_capped() -> None:
    """The block used to sleep out Retry-After inside the attempt, and then the engine
    waited max(backoff, Retry-After) again: twice what the peer asked. Now the block
    only caps it (the engine's wait is the one wait), and a final failure is final."""
    from types import SimpleNamespace

    from blocks._http_errors import MAX_RETRY_AFTER, HttpError
    from blocks.http import settle_failure
    from engine.executor import BlockFailed

    ctx: Any = SimpleNamespace(path="capture")
    busy = HttpError("503", retriable=True, status=503, retry_after=3600.0)
    assert settle_failure(ctx, busy) is busy and busy.retry_after == MAX_RETRY_AFTER
    final = settle_failure(ctx, HttpError("400", retriable=False, status=400))
    assert isinstance(final, BlockFailed) and final.error["block"] == "capture"


async def test_a_connection_error_does_not_quote_the_urls_password_or_query(
    run_yaml: Any,
) -> None:
    """A refused connection's error said `GET http://alice:s3cr3tpass@…/x?api_key=…:
    ConnectError …`, stored in the run record, while the status error and the recorded
    URL showed neither."""
    port = free_port()  # nothing listens on it
    result = await run_yaml(
        f"""
        name: http_refused_url
        blocks:
          start: {{type: manual}}
          call:
            type: http
            url: "http://alice:s3cr3tpass@127.0.0.1:{port}/x?api_key=plain-key-in-query#tok=frag-secret"
            query: {{token: "tok-in-query-param"}}
        edges: [start -> call]
        """
    )
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert message.startswith(f"GET http://127.0.0.1:{port}/x: ConnectError"), message
    for secret in (
        "s3cr3tpass",
        "alice",
        "plain-key-in-query",
        "tok-in-query-param",
        "frag-secret",
    ):
        assert secret not in str(result), secret
