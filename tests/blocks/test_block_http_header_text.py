"""A header HTTP cannot carry as text (`X-Name: José ✓`, a line break) is refused
naming the header: at validation when written in the file, at run time when a
reference resolved to it. It failed with httpx's bare `UnicodeEncodeError: 'ascii'
codec can't encode…` (or aiohttp's "Potential header injection attack"), naming
neither the header nor the block's field."""

from __future__ import annotations

from typing import Any

import pytest
from standins.recording import RecordingServer, Scripted

from engine.model import WorkflowError

OUTSIDE_ASCII = "its value holds text outside ASCII, which an HTTP header does not carry as text"


def test_a_written_value_outside_ascii_is_refused_at_validation(write_workflow: Any) -> None:
    with pytest.raises(WorkflowError) as info:
        write_workflow(
            """
            name: header_text
            blocks:
              call:
                type: http
                url: http://127.0.0.1:9/h
                headers:
                  X-Name: "José ✓"
                  Authorization: "Bearer <env.API_KEY> ✓"
                  X-Fine: "plain <env.API_KEY>"
                  "X Name": plain
            """,
            name="header_text",
        )
    found = {(p.block, p.field): p.message for p in info.value.problems}
    assert set(found) == {
        ("call", "headers.X-Name"),
        ("call", "headers.Authorization"),
        ("call", "headers.X Name"),
    }
    assert found[("call", "headers.X-Name")].startswith(f"header 'X-Name': {OUTSIDE_ASCII}")
    assert "percent-encode it" in found[("call", "headers.X-Name")]
    assert "José" not in found[("call", "headers.X-Name")]  # the value is never quoted
    assert found[("call", "headers.X Name")].startswith(
        "header name 'X Name' is not one HTTP allows"
    )
    [problem] = [p for p in info.value.problems if p.field == "headers.X-Name"]
    assert str(problem).startswith(f"{problem.file}: block 'call': field 'headers.X-Name': ")


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("José ✓", OUTSIDE_ASCII),
        ("José", OUTSIDE_ASCII),
        ("a\r\nX-Evil: 1", "its value holds a control character"),
    ],
)
async def test_a_resolved_value_that_cannot_be_sent_fails_naming_the_header(
    run_yaml: Any, recorder: RecordingServer, value: str, says: str
) -> None:
    recorder.respond("/h", Scripted(200, {}))
    result = await run_yaml(
        f"""
        name: header_text_run
        blocks:
          call:
            type: http
            url: {recorder.url}/h
            headers: {{X-Name: "<input.name>", X-Other: fine}}
        """,
        {"name": value},
    )
    assert result["status"] == "failed"
    error = result["error"]
    assert (error["type"], error["block"]) == ("HttpError", "call")
    assert error["message"].startswith(f"header 'X-Name': {says}")
    assert value not in error["message"]
    assert result["blocks"]["call"]["attempts"] == 1
    assert recorder.requests == []


async def test_ascii_text_with_tabs_and_punctuation_is_sent(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    recorder.respond("/h", Scripted(200, {}))
    result = await run_yaml(
        f"""
        name: header_text_ok
        blocks:
          call:
            type: http
            url: {recorder.url}/h
            headers: {{X-Name: "<input.name>", X-Encoded: "UTF-8''Jos%C3%A9"}}
        """,
        {"name": 'a\tb ~!"#'},
    )
    assert result["status"] == "succeeded", result["error"]
    [request] = recorder.requests
    assert request.headers["x-name"] == 'a\tb ~!"#'
    assert request.headers["x-encoded"] == "UTF-8''Jos%C3%A9"
