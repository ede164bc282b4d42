"""A recipient named twice (in `to` and `bcc`, or twice in a list from the data) is
given to a real SMTP server (aiosmtpd) on 127.0.0.1 once.

Each address was a `RCPT TO` of its own: a server that does not fold repeats (as
aiosmtpd, and relays that fan a message out per recipient) delivered the customer's
confirmation twice, when `bcc: <input.email>` kept a copy for a customer who was
also in `to`."""

from __future__ import annotations

from typing import Any

from standins.smtp import Inbox

MAIL = """
name: email_recipients_once
blocks:
  send:
    type: email
    to: <input.to>
    cc: "Ann <ann@Shop.Test>"
    bcc: <input.bcc>
    subject: Your order
    text: Confirmed.
"""


async def test_each_recipient_is_sent_the_message_once(run_yaml: Any, smtp: Inbox) -> None:
    result = await run_yaml(
        MAIL, {"to": ["ann@shop.test", "bob@shop.test", "ann@shop.test"], "bcc": "bob@shop.test"}
    )
    assert result["status"] == "succeeded", result["error"]
    [(rcpts, msg)] = smtp.messages
    assert rcpts == ["ann@shop.test", "bob@shop.test"]
    assert result["output"]["accepted"] == ["ann@shop.test", "bob@shop.test"]
    # The headers still say what the workflow wrote.
    assert msg["Cc"] == "Ann <ann@Shop.Test>"


async def test_local_parts_differing_in_case_are_different_recipients(
    run_yaml: Any, smtp: Inbox
) -> None:
    result = await run_yaml(MAIL, {"to": ["Ann@shop.test"], "bcc": "ann@shop.test"})
    assert result["status"] == "succeeded", result["error"]
    [(rcpts, _)] = smtp.messages
    # A domain is the same in any case (the bcc repeats the cc), a local part is not.
    assert rcpts == ["Ann@shop.test", "ann@Shop.Test"]
