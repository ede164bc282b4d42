"""The escaping examples of docs/blocks/slack.md and email.md, run as written
against the Slack stand-in and a real SMTP server (aiosmtpd) on 127.0.0.1: the
blocks send reference values as they are, and the documented Function block is
what keeps a `<!channel>` or a link in a name from being read as one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from standins.recording import RecordingServer, Scripted
from standins.smtp import Inbox

DOCS = Path(__file__).resolve().parents[2] / "docs" / "blocks"
NAME = 'Ann & <!channel> <a href="https://x.test">'


def documented_example(page: str) -> str:
    """The YAML example under the page's "Values are not escaped" paragraph."""
    text = (DOCS / page).read_text()
    after = text.split("**Values are not escaped", 1)[1]
    return re.search(r"```yaml\n(.*?)```", after, re.S).group(1)


async def test_slack_posts_a_value_as_it_is_and_the_documented_escape_works(
    run_yaml: Any, recorder: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder.respond("/services/T0/B0/DOC", Scripted(200, "ok"))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"{recorder.url}/services/T0/B0/DOC")
    example = documented_example("slack.md")
    unescaped = example.replace("<shown.name>", "<input.name>")
    assert unescaped != example
    for workflow in (unescaped, example):
        result = await run_yaml(f"name: slack_doc\n{workflow}", {"name": NAME})
        assert result["status"] == "succeeded", result["error"]
    sent = [r.json["text"] for r in recorder.requests]
    assert sent == [
        f"New order from {NAME}",
        'New order from Ann &amp; &lt;!channel&gt; &lt;a href="https://x.test"&gt;',
    ]


async def test_email_html_takes_a_value_as_it_is_and_the_documented_escape_works(
    run_yaml: Any, smtp: Inbox
) -> None:
    example = documented_example("email.md")
    unescaped = example.replace("<shown.name>", "<input.name>")
    assert unescaped != example
    for workflow in (unescaped, example):
        result = await run_yaml(
            f"name: email_doc\n{workflow}", {"name": NAME, "email": "ann@shop.test"}
        )
        assert result["status"] == "succeeded", result["error"]
    bodies = [
        next(p for p in msg.walk() if p.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
        .strip()
        for _, msg in smtp.messages
    ]
    assert bodies == [
        f"<p>Thanks, <b>{NAME}</b>!</p>",
        "<p>Thanks, <b>Ann &amp; &lt;!channel&gt; &lt;a href=&quot;https://x.test&quot;&gt;"
        "</b>!</p>",
    ]
