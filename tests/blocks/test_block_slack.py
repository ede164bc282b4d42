"""Slack block against a recording stand-in server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from standins.recording import RecordingServer, Scripted
from workflow_problems import problems


async def test_slack_posts_the_message(run_yaml: Any, recorder: RecordingServer) -> None:
    recorder.respond("/services/T0/B0/XYZ", Scripted(200, "ok"))
    result = await run_yaml(
        f"""
        version: 1
        name: slack_post
        blocks:
          alert:
            type: slack
            webhook_url: {recorder.url}/services/T0/B0/XYZ
            text: "Order <input.order_id> shipped"
            blocks: [{{type: section, text: {{type: mrkdwn, text: "*<input.order_id>*"}}}}]
        """,
        {"order_id": "o-9"},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["status"] == 200 and result["output"]["ok"] is True
    [req] = recorder.requests
    assert req.json["text"] == "Order o-9 shipped"
    assert req.json["blocks"][0]["text"]["text"] == "*o-9*"


async def test_an_upper_case_scheme_is_a_url_like_any_other(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """Schemes are case-insensitive (RFC 3986): `HTTPS://hooks…` was refused."""
    recorder.respond("/services/T0/B0/UPPER", Scripted(200, "ok"))
    url = recorder.url.replace("http://", "HTTP://")
    result = await run_yaml(
        f"""
        version: 1
        name: slack_upper
        blocks:
          alert: {{type: slack, webhook_url: "{url}/services/T0/B0/UPPER", text: hi}}
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert [r.path for r in recorder.requests] == ["/services/T0/B0/UPPER"]


async def test_slack_failure_is_a_block_error(run_yaml: Any, recorder: RecordingServer) -> None:
    recorder.respond("/services/bad", Scripted(403, "invalid_token"))
    result = await run_yaml(
        f"""
        version: 1
        name: slack_fail
        blocks:
          alert: {{type: slack, webhook_url: "{recorder.url}/services/bad", text: hi}}
        """
    )
    assert result["status"] == "failed"
    assert "403" in result["error"]["message"] and "invalid_token" in result["error"]["message"]


async def test_a_value_that_is_not_text_is_posted_as_its_text(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """`text: <input.total>` was posted as a JSON number, an object as an object:
    Slack takes text."""
    recorder.respond("/services/T0/B0/TEXT", Scripted(200, "ok"))
    result = await run_yaml(
        f"""
        name: slack_text_values
        blocks:
          alert:
            type: slack
            webhook_url: {recorder.url}/services/T0/B0/TEXT
            text: <input.order>
            username: <input.total>
        """,
        {"order": {"id": 7, "paid": True}, "total": 1250},
    )
    assert result["status"] == "succeeded", result["error"]
    [req] = recorder.requests
    assert req.json == {"text": '{"id":7,"paid":true}', "username": "1250"}


def test_a_written_out_url_or_blocks_slack_cannot_take_fail_validation(tmp_path: Path) -> None:
    """`ftp://…` and `blocks: "not json"` passed validate and failed at run time, the
    second as a bare JSONDecodeError naming neither the field nor Slack."""
    found = problems(
        tmp_path,
        """
name: slack_bad
blocks:
  ftp: {type: slack, webhook_url: "ftp://x.test/T/B/secretpath", text: hi}
  text: {type: slack, webhook_url: "https://hooks.slack.test/T/B/x", blocks: "not json"}
  object: {type: slack, webhook_url: "https://hooks.slack.test/T/B/x", blocks: '{"a": 1}'}
  fine: {type: slack, webhook_url: <env.SLACK_URL>, blocks: '[{"type": "<input.t>"}]'}
  nohost: {type: slack, webhook_url: "https://", text: hi}
""",
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'ftp': field 'webhook_url': "
        "the webhook_url must start with http:// or https://, not ftp://",
        f"{tmp_path / 'bad.yaml'}: block 'text': field 'blocks': "
        "blocks is not JSON (Expecting value: line 1 column 1 (char 0))",
        f"{tmp_path / 'bad.yaml'}: block 'object': field 'blocks': "
        "blocks must be a list of Block Kit blocks (or its JSON text), "
        "not an object (put it in a list: [{...}])",
        f"{tmp_path / 'bad.yaml'}: block 'nohost': field 'webhook_url': "
        "the webhook_url names no host (https://hooks.slack.com/services/…)",
    ]
    assert not any("secretpath" in p for p in found)


@pytest.mark.parametrize("written", ["5", "null", "true"])
def test_blocks_written_as_a_scalar_is_told_what_blocks_is(tmp_path: Path, written: str) -> None:
    """`blocks: 5` was told to write it in quotes ('5'), which validation then refused."""
    found = problems(
        tmp_path,
        f"name: s\nblocks:\n  a: {{type: slack, webhook_url: 'https://h.test/x', blocks: {written}}}\n",
    )
    assert [p.split(": ", 1)[1] for p in found] == [
        "block 'a': field 'blocks': `blocks` is a list of Block Kit blocks, its JSON text"
        f" or one reference, not {written}"
    ]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("not json", "blocks is not JSON (Expecting value: line 1 column 1 (char 0))"),
        ({"type": "divider"}, "not an object (put it in a list: [{...}])"),
        ('{"type": "divider"}', "not an object"),
        (3, "not a number"),
    ],
)
async def test_blocks_from_a_reference_slack_cannot_take_fail_naming_the_field(
    run_yaml: Any, recorder: RecordingServer, value: Any, says: str
) -> None:
    """A dict was posted as it was; text that is not JSON failed as a bare
    JSONDecodeError."""
    result = await run_yaml(
        f"""
        name: slack_bad_blocks
        blocks:
          alert: {{type: slack, webhook_url: "{recorder.url}/services/T0/B0/X", blocks: <input.b>}}
        """,
        {"b": value},
    )
    assert result["status"] == "failed"
    error = result["error"]
    assert error["type"] == "SlackError" and error["message"].startswith("blocks ")
    assert says in error["message"]
    assert result["blocks"]["alert"]["attempts"] == 1
    assert recorder.requests == []


async def test_a_url_whose_host_and_port_are_references_is_valid(
    run_yaml: Any, recorder: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`http://<env.HOST>:<env.PORT>/hooks/…` (a self-hosted Slack-compatible hook on a
    configured address) was refused at validation, "names no host": the check read the
    written text, whose port `<env.PORT>` is no number. A reference there is judged
    once resolved."""
    recorder.respond("/services/T0/B0/SPLIT", Scripted(200, "ok"))
    monkeypatch.setenv("DOC_SLACK_HOST", "127.0.0.1")
    monkeypatch.setenv("DOC_SLACK_PORT", str(recorder.port))
    result = await run_yaml(
        """
        name: slack_split_url
        blocks:
          alert:
            type: slack
            webhook_url: "http://<env.DOC_SLACK_HOST>:<env.DOC_SLACK_PORT>/services/T0/B0/SPLIT"
            text: hi
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert [r.json["text"] for r in recorder.requests] == ["hi"]


def test_a_written_url_with_no_host_is_still_refused_around_references(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
name: slack_nohost
blocks:
  pathref: {type: slack, webhook_url: "https:///services/<env.SLACK_TOKEN>", text: hi}
""",
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'pathref': field 'webhook_url': "
        "the webhook_url names no host (https://hooks.slack.com/services/…)",
    ]
