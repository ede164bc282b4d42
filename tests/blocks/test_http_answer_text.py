"""An answer's text as its byte order mark says it is encoded.

A JSON answer starting with a UTF-8 BOM (as .NET and IIS services send it) came out
as the text ``\\ufeff{"id": …}`` instead of the object, so ``<call.body.id>`` had no
value; one in UTF-16 with its BOM (Windows services, Excel exports) came out as
replacement characters between the letters. The BOM wins over the Content-Type's
charset, as the WHATWG encoding standard (every browser) reads an answer."""

from __future__ import annotations

import codecs
from typing import Any

import pytest
from standins.recording import RecordingServer, Scripted

GET = """
    version: 1
    name: http_bom
    blocks:
      call:
        type: http
        url: {url}/answer
    """


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (codecs.BOM_UTF8 + '{"id": "é1"}'.encode(), "application/json"),
        (codecs.BOM_UTF8 + '{"id": "é1"}'.encode(), "application/json; charset=utf-8"),
        ('{"id": "é1"}'.encode("utf-16"), "application/json"),
        (codecs.BOM_UTF16_BE + '{"id": "é1"}'.encode("utf-16-be"), "application/json"),
    ],
)
async def test_a_json_answer_with_a_bom_is_the_json(
    run_yaml: Any, recorder: RecordingServer, raw: bytes, content_type: str
) -> None:
    recorder.respond("/answer", Scripted(200, raw, {"Content-Type": content_type}))
    result = await run_yaml(GET.format(url=recorder.url))
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["body"] == {"id": "é1"}


async def test_a_text_answer_in_utf16_is_its_text(run_yaml: Any, recorder: RecordingServer) -> None:
    raw = "Grüße ✓".encode("utf-16")
    recorder.respond("/answer", Scripted(200, raw, {"Content-Type": "text/plain"}))
    result = await run_yaml(GET.format(url=recorder.url))
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["body"] == "Grüße ✓"


async def test_an_answer_without_a_bom_keeps_its_charset(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    raw = "café".encode("latin-1")
    recorder.respond("/answer", Scripted(200, raw, {"Content-Type": "text/plain; charset=latin-1"}))
    result = await run_yaml(GET.format(url=recorder.url))
    assert result["output"]["body"] == "café"
