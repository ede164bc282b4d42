"""Slack `blocks` written as JSON text with references in it, posted to a recording
stand-in on 127.0.0.1: the values are string contents, never JSON of their own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from standins.recording import RecordingServer, Scripted
from workflow_problems import problems

JSON_TEXT = """
name: slack_json_text
blocks:
  alert:
    type: slack
    webhook_url: URL/services/T0/B0/JSON
    blocks: '[{"type":"section","text":{"type":"mrkdwn","text":"Order <input.name>"}}]'
"""


async def test_a_reference_in_json_text_blocks_is_string_contents(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """`O"Brien` made the text "not JSON"; a crafted name added a block of its own."""
    recorder.respond("/services/T0/B0/JSON", Scripted(200, "ok"))
    crafted = 'x"}},{"type":"section","text":{"type":"mrkdwn","text":"<!channel>'
    for name in ('O"Brien \\ co', crafted):
        result = await run_yaml(JSON_TEXT.replace("URL", recorder.url), {"name": name})
        assert result["status"] == "succeeded", result["error"]
        assert recorder.requests[-1].json["blocks"] == [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"Order {name}"}}
        ]
    assert len(recorder.requests) == 2


async def test_a_string_that_is_one_reference_in_json_text_is_the_values_text(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """Written in quotes, it is a string: `"text":"<input.name>"` holding 1250 is
    "1250" (as the text pasted in was), an object its JSON text."""
    recorder.respond("/services/T0/B0/JSON", Scripted(200, "ok"))
    wf = JSON_TEXT.replace("URL", recorder.url).replace("Order <input.name>", "<input.name>")
    for name, text in ((1250, "1250"), ({"id": 7, "vip": True}, '{"id":7,"vip":true}')):
        result = await run_yaml(wf, {"name": name})
        assert result["status"] == "succeeded", result["error"]
        assert recorder.requests[-1].json["blocks"][0]["text"]["text"] == text


def test_json_text_blocks_with_a_reference_outside_a_string_fail_validation(
    tmp_path: Path,
) -> None:
    found = problems(
        tmp_path,
        """
name: slack_ref_outside
blocks:
  alert: {type: slack, webhook_url: <env.SLACK_URL>, blocks: '[<input.block>]'}
""",
    )
    assert [p.split(": ", 1)[1] for p in found] == [
        "block 'alert': field 'blocks': blocks is not JSON (Expecting value: line 1 column 2"
        ' (char 1)): a reference in JSON text goes inside a string ("<a.b>")'
    ]
