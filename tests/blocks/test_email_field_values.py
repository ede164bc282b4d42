"""Email fields whose values come from references, sent to a real SMTP server
(aiosmtpd) on 127.0.0.1: what a value that is not text becomes, and which
addresses are refused."""

from __future__ import annotations

from typing import Any

import pytest
from standins.smtp import Inbox

FIELDS = """
name: email_values
blocks:
  send:
    type: email
    to: ann@shop.test
    subject: <input.subj>
    text: <input.body>
    html: <input.h>
    reply_to: <input.rt>
    retries: 2
    retry_backoff: 0.01
"""


def _parts(msg: Any) -> dict[str, str]:
    return {
        p.get_content_type(): p.get_payload(decode=True).decode().strip()
        for p in msg.walk()
        if not p.is_multipart()
    }


async def test_a_field_that_is_one_reference_is_sent_as_the_values_text(
    run_yaml: Any, smtp: Inbox
) -> None:
    """`subject: <input.subj>` holding true went out as `Subject: True`, an object
    body as Python's `{'paid': True, 'note': None}`: values render as everywhere
    else (JSON for objects and lists, `true`)."""
    result = await run_yaml(
        FIELDS,
        {
            "subj": True,
            "body": {"paid": True, "note": None},
            "h": ["<b>x</b>"],
            "rt": "Help Desk <help@shop.test>",
        },
    )
    assert result["status"] == "succeeded", result["error"]
    [(_, msg)] = smtp.messages
    assert msg["Subject"] == "true"
    assert msg["Reply-To"] == "Help Desk <help@shop.test>"
    parts = _parts(msg)
    assert parts["text/plain"] == '{"paid":true,"note":null}'
    assert parts["text/html"] == '["<b>x</b>"]'


@pytest.mark.parametrize("rt", [{"a": 1}, "not an address", "help@shop.test\r\nBcc: e@x.test"])
async def test_a_reply_to_that_is_not_an_address_is_refused(
    run_yaml: Any, smtp: Inbox, rt: Any
) -> None:
    """`reply_to: <input.rt>` holding {"a": 1} went out as `Reply-To: {'a': 1};`."""
    result = await run_yaml(FIELDS, {"subj": "s", "body": "b", "h": "h", "rt": rt})
    assert result["status"] == "failed" and result["error"]["type"] == "EmailError"
    assert "`reply_to`" in result["error"]["message"]
    assert result["blocks"]["send"]["attempts"] == 1  # the same value fails again
    assert smtp.messages == []


TO = """
name: email_to
blocks:
  send:
    type: email
    to: <input.to>
    subject: s
    text: t
    retries: 2
    retry_backoff: 0.01
"""


@pytest.mark.parametrize(
    "to",
    [
        {"a": "b@c.d"},  # was sent to "'b@c.d'}"
        [{"a": "b@c.d"}],
        ["ann@shop.test", 5],
        "a@-",
        "a@x..y",
        "a@.",
        "a@x'}",
        "a@-x.test",
        "a@x-.test",
        "a@x.test.",
        "a@x_y.test",
    ],
)
async def test_a_recipient_that_is_not_an_address_as_text_is_refused(
    run_yaml: Any, smtp: Inbox, to: Any
) -> None:
    result = await run_yaml(TO, {"to": to})
    assert result["status"] == "failed" and result["error"]["type"] == "EmailError"
    assert "`to`" in result["error"]["message"]
    assert result["blocks"]["send"]["attempts"] == 1
    assert smtp.messages == []


async def test_domains_of_letters_digits_and_inner_hyphens_are_addresses(
    run_yaml: Any, smtp: Inbox
) -> None:
    to = ["a@localhost", "b.c+d@mail-1.x2.shop.test", "E <e@Shop.Test>"]
    result = await run_yaml(TO, {"to": to})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["accepted"] == [
        "a@localhost",
        "b.c+d@mail-1.x2.shop.test",
        "e@Shop.Test",
    ]


async def test_a_written_quoted_name_with_a_comma_stays_one_address_beside_a_reference(
    run_yaml: Any, smtp: Inbox
) -> None:
    """`'"Doe, John" <john@x.test>, <input.to>'` was refused: "'Doe' is not an email
    address" (the written text was split on every comma)."""
    wf = TO.replace(
        "to: <input.to>", """to: '"Doe, John" <john@x.test>, ops@shop.test (Ops, EU), <input.to>'"""
    )
    assert wf != TO
    result = await run_yaml(wf, {"to": "cy@shop.test"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["accepted"] == ["john@x.test", "ops@shop.test", "cy@shop.test"]
    [(_, msg)] = smtp.messages
    assert msg["To"] == '"Doe, John" <john@x.test>, "Ops, EU" <ops@shop.test>, cy@shop.test'
