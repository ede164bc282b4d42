"""A line break hidden in an RFC 2047 encoded word (``=?utf-8?q?…=0D=0A…?=``) in a
header field, sent to a real SMTP server (aiosmtpd) on 127.0.0.1.

Python's email package decodes encoded words in a header it is given and wrote the
CR/LF they hid into the message as they were: a webhook's order id in the subject
added a ``Bcc:`` or ``Reply-To:`` header, or (with a blank line) replaced the whole
body with text of the sender's choosing, past the check for line breaks, which
looked at the text before it was decoded."""

from __future__ import annotations

from typing import Any

import pytest
from standins.smtp import Inbox

MAIL = """
name: email_encoded_words
blocks:
  send:
    type: email
    to: ann@shop.test
    from: <input.sender>
    subject: "Order <input.order_id>"
    text: Your order is confirmed.
    retries: 2
    retry_backoff: 0.01
"""


@pytest.mark.parametrize(
    "order_id",
    [
        "=?utf-8?q?1=0D=0AReply-To:_refunds@evil.test?=",
        "=?utf-8?b?MQpCY2M6IGV2aWxAZXZpbC50ZXN0?=",  # "1\nBcc: evil@evil.test"
        "=?utf-8?q?1=0D=0A=0D=0APay_here:_https://evil.test?=",
        "=?iso-8859-1?q?1=0ATo:_evil@evil.test?=",
    ],
)
async def test_a_line_break_in_an_encoded_word_is_refused(
    run_yaml: Any, smtp: Inbox, order_id: str
) -> None:
    result = await run_yaml(MAIL, {"order_id": order_id, "sender": "orders@shop.test"})
    assert result["status"] == "failed"
    assert "`subject` contains a line break" in result["error"]["message"]
    assert result["blocks"]["send"]["attempts"] == 1  # not retried
    assert smtp.messages == []


async def test_an_encoded_word_without_a_line_break_is_sent(run_yaml: Any, smtp: Inbox) -> None:
    result = await run_yaml(
        MAIL, {"order_id": "=?utf-8?q?caf=C3=A9?=", "sender": "Shop <orders@shop.test>"}
    )
    assert result["status"] == "succeeded", result["error"]
    [(_, msg)] = smtp.messages
    assert msg.get_payload(decode=True).decode().strip() == "Your order is confirmed."
    assert [k for k in msg.keys() if k.lower() in ("bcc", "reply-to")] == []
