"""An HTTP answer whose JSON nests too deeply for Python's parser fails the block in
words, not retried: it said `RecursionError: maximum recursion depth exceeded while
decoding a JSON array from a unicode string`, an internal error, and was tried
again on `retries` (a real stand-in peer on 127.0.0.1)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class _Peer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        depth = int(self.path.rsplit("/", 1)[-1])
        body = b"[" * depth + b"]" * depth
        self.server.calls += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    server.calls = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


WORKFLOW = """
version: 1
name: deep_answer
blocks:
  get:
    type: http
    url: http://127.0.0.1:{port}/depth/{depth}
    retries: 2
    retry_backoff: 0
"""


async def test_an_answer_nested_too_deeply_fails_in_words_once(
    run_yaml: Any, peer: ThreadingHTTPServer
) -> None:
    port = peer.server_address[1]
    result = await run_yaml(WORKFLOW.format(port=port, depth=5000))
    assert result["status"] == "failed"
    error = result["blocks"]["get"]["error"]
    assert error["type"] == "HttpError"
    assert "the answer's JSON is nested too deeply to read" in error["message"]
    assert "RecursionError" not in error["message"]
    assert peer.calls == 1  # the same answer again would not help  # type: ignore[attr-defined]


async def test_an_answer_nested_a_few_hundred_levels_is_read(
    run_yaml: Any, peer: ThreadingHTTPServer
) -> None:
    port = peer.server_address[1]
    result = await run_yaml(WORKFLOW.format(port=port, depth=300))
    assert result["status"] == "succeeded", result["error"]
    body = result["output"]["body"]
    for _ in range(299):
        [body] = body
    assert body == []
