"""Slack block against a recording stand-in server on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from standins.recording import RecordingServer, Scripted


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
