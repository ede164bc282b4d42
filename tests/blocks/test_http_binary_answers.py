"""An HTTP answer that is not text (an image, a PDF, a zip, octet-stream) is kept as
base64, `body_encoding: base64` saying so (real embedded PostgreSQL, a stand-in peer).

It was decoded as UTF-8 text: a PNG came back full of replacement characters and
its bytes could not be had again (to store in a `bytea`, to hand to another API).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from standins.recording import RecordingServer, Scripted

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\xff\xfe\x80"


@pytest.fixture
def peer() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


def _fetch(peer: RecordingServer) -> str:
    return f"""
name: fetch_file
blocks:
  start: {{type: manual}}
  get: {{type: http, url: "{peer.url}/file"}}
edges: [start -> get]
output: <get>
"""


@pytest.mark.parametrize(
    "ctype",
    ["image/png", "application/pdf", "application/octet-stream", "application/zip; x=1"],
)
async def test_a_binary_answer_is_kept_as_base64(
    run_yaml: Any, peer: RecordingServer, ctype: str
) -> None:
    peer.respond("/file", Scripted(body=PNG, headers={"Content-Type": ctype}))
    result = await run_yaml(_fetch(peer))
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["body_encoding"] == "base64"
    assert base64.b64decode(out["body"]) == PNG


@pytest.mark.parametrize(
    ("ctype", "body", "expected"),
    [
        ("text/plain; charset=utf-8", b"plain words", "plain words"),
        ("application/json", b'{"a": 1}', {"a": 1}),
        ("application/problem+json", b'{"title": "x"}', {"title": "x"}),
        ("application/xml", b"<a>1</a>", "<a>1</a>"),
        ("text/csv", b"a,b\n1,2\n", "a,b\n1,2\n"),
    ],
)
async def test_a_text_answer_stays_text(
    run_yaml: Any, peer: RecordingServer, ctype: str, body: bytes, expected: Any
) -> None:
    peer.respond("/file", Scripted(body=body, headers={"Content-Type": ctype}))
    result = await run_yaml(_fetch(peer))
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["body"] == expected
    assert "body_encoding" not in result["output"]
