"""An answer compressed twice (``Content-Encoding: gzip, gzip``, which httpx undoes
layer by layer) is held to FLOWYARD_MAX_RESPONSE as it inflates, against a real
stand-in on 127.0.0.1. A body of a few kilobytes inflating to a gigabyte was undone
whole, chunk by chunk, before its size was counted: the server grew by the
gigabyte (and by more for a bigger one, until the kernel killed it)."""

from __future__ import annotations

import gzip
import resource
import zlib
from collections.abc import Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from standins.loopback import serving

INFLATED = 1024 * 1024 * 1024  # what the twice-gzipped body inflates to


def _gzip_stream(pieces: Iterator[bytes]) -> Iterator[bytes]:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    for piece in pieces:
        if out := packer.compress(piece):
            yield out
    yield packer.flush()


@cache
def bomb() -> bytes:
    zeros = (b"\0" * (1024 * 1024) for _ in range(INFLATED // (1024 * 1024)))
    return b"".join(_gzip_stream(_gzip_stream(zeros)))


TWICE = gzip.compress(gzip.compress(b'{"items": [1, 2, 3]}'))
DEFLATED = zlib.compress(b'{"raw": "deflate"}')


class _Peer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body, encoding = {
            "/bomb": (bomb(), "gzip, gzip"),
            "/twice": (TWICE, "gzip, gzip"),
            "/deflate": (DEFLATED, "deflate"),
        }[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def peer() -> Iterator[str]:
    with serving(_Peer) as url:
        yield url


def fetch(url: str) -> str:
    return f"""
        name: http_answer_layers
        blocks:
          get:
            type: http
            url: {url}
            timeout: 60
        """


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_a_body_gzipped_twice_is_held_to_the_limit_as_it_inflates(
    run_yaml: Any, peer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYARD_MAX_RESPONSE", str(1024 * 1024))
    assert len(bomb()) < 64 * 1024  # one network read
    before = _peak_mib()
    result = await run_yaml(fetch(f"{peer}/bomb"))
    assert result["status"] == "failed"
    assert "bigger than 1,048,576 bytes" in result["error"]["message"]
    assert _peak_mib() - before < 200, "the body was inflated whole before it was counted"


async def test_bodies_compressed_in_layers_or_deflated_still_read(run_yaml: Any, peer: str) -> None:
    twice = await run_yaml(fetch(f"{peer}/twice"))
    assert twice["status"] == "succeeded", twice["error"]
    assert twice["output"]["body"] == {"items": [1, 2, 3]}
    deflated = await run_yaml(fetch(f"{peer}/deflate"))
    assert deflated["status"] == "succeeded", deflated["error"]
    assert deflated["output"]["body"] == {"raw": "deflate"}
