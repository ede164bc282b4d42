"""An answer bigger than FLOWYARD_MAX_RESPONSE fails the HTTP block, read no further,
against real stand-ins on 127.0.0.1: one whose body never ends and one sending a
small gzip body that inflates to far more. Read whole, the first grew the server by
gigabytes until the block's timeout (or the kernel killed it, and every run in it)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

INFLATED = 3 * 1024 * 1024  # what the gzip body inflates to
BOMB = gzip.compress(b"0" * INFLATED)
SMALL = gzip.compress(b'{"items": [1, 2, 3]}')


class _Peer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path == "/endless":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"a" * 65536
            try:
                while not self.server.stopping:  # type: ignore[attr-defined]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                pass
            self.close_connection = True
            return
        body = BOMB if self.path == "/bomb" else SMALL
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    server.daemon_threads = True
    server.stopping = False  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.stopping = True  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def fetch(url: str) -> str:
    return f"""
        name: http_answer_size
        blocks:
          get:
            type: http
            url: {url}
            timeout: 20
            retries: 2
            retry_backoff: 0.01
        """


async def test_an_answer_that_never_ends_fails_the_block_at_the_limit(
    run_yaml: Any, peer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYARD_MAX_RESPONSE", str(1024 * 1024))
    t0 = time.monotonic()
    result = await run_yaml(fetch(f"{peer}/endless"))
    assert time.monotonic() - t0 < 10  # not read until the 20 s timeout
    assert result["status"] == "failed"
    assert result["blocks"]["get"]["attempts"] == 1  # the same answer on every attempt
    message = result["error"]["message"]
    assert "bigger than 1,048,576 bytes" in message and "FLOWYARD_MAX_RESPONSE" in message


async def test_a_gzip_body_is_held_to_the_limit_as_inflated(
    run_yaml: Any, peer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYARD_MAX_RESPONSE", str(1024 * 1024))
    result = await run_yaml(fetch(f"{peer}/bomb"))
    assert result["status"] == "failed"
    assert "bigger than 1,048,576 bytes" in result["error"]["message"]
    small = await run_yaml(fetch(f"{peer}/small"))
    assert small["status"] == "succeeded", small["error"]
    assert small["output"]["body"] == {"items": [1, 2, 3]}


async def test_the_default_limit_takes_a_body_of_megabytes(run_yaml: Any, peer: str) -> None:
    result = await run_yaml(fetch(f"{peer}/bomb"))
    assert result["status"] == "succeeded", result["error"]
    assert len(result["output"]["body"]) == INFLATED
