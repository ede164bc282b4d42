"""A compressed answer cut short, against a real stand-in on 127.0.0.1.

An answer without a Content-Length ends when the peer closes the connection, so a
connection dropped halfway looks like the end of the answer; a gzip body's own end
(its trailer) is then the only sign that something is missing. It was not looked
for: the block succeeded with the first part of the text (the first rows of a CSV
export, JSON cut mid-object, which then came out as text), as if it were all."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from standins.loopback import serving

ROWS = "".join(f"order-{i},{i * 7}.00\n" for i in range(2000)).encode()
WHOLE = gzip.compress(ROWS)


class _Peer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # the body ends where the connection does

    def _answer(self, send_body: bool) -> None:
        body, status = {
            "/cut": (WHOLE[: len(WHOLE) // 2], 200),
            "/whole": (WHOLE, 200),
            "/corrupt": (b"this is not gzip at all", 200),
            "/empty": (b"", 204),
        }[self.path]
        self.send_response(status)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._answer(True)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        self._answer(False)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[str]:
    with serving(_Peer) as url:
        yield url


def fetch(url: str, method: str = "GET") -> str:
    return f"""
        name: http_answer_cut_short
        blocks:
          get:
            type: http
            method: {method}
            url: {url}
            retries: 1
            retry_backoff: 0.01
        """


async def test_a_gzip_answer_cut_short_fails_and_is_retried(run_yaml: Any, peer: str) -> None:
    result = await run_yaml(fetch(f"{peer}/cut"))
    assert result["status"] == "failed", result["output"]
    error = result["error"]
    assert error["type"] == "HttpError"
    assert error["message"].startswith(f"GET {peer}/cut: ")
    assert "cut short" in error["message"]
    assert result["blocks"]["get"]["attempts"] == 2  # another attempt may get it whole


async def test_a_corrupt_gzip_answer_is_the_blocks_own_error(run_yaml: Any, peer: str) -> None:
    result = await run_yaml(fetch(f"{peer}/corrupt"))
    assert result["status"] == "failed", result["output"]
    assert result["error"]["type"] == "HttpError"
    assert result["error"]["message"].startswith(f"GET {peer}/corrupt: ")


async def test_whole_and_empty_gzip_answers_are_read(run_yaml: Any, peer: str) -> None:
    whole = await run_yaml(fetch(f"{peer}/whole"))
    assert whole["status"] == "succeeded", whole["error"]
    assert whole["output"]["body"] == ROWS.decode()
    for url, method in ((f"{peer}/empty", "GET"), (f"{peer}/whole", "HEAD")):
        empty = await run_yaml(fetch(url, method))
        assert empty["status"] == "succeeded", empty["error"]
        assert empty["output"]["body"] in ("", None)
