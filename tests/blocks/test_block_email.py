"""Email block against a real SMTP server (aiosmtpd) on 127.0.0.1, with and without STARTTLS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cryptography  # noqa: F401 - a test extra: missing, these tests must fail, not skip
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from standins.smtp import Inbox, serving, starttls_with_login

MAIL = """
version: 1
name: email_send
blocks:
  confirm:
    type: email
    to: <input.to>
    subject: "Order <input.order_id> confirmed"
    text: "Thanks! Your order <input.order_id> is on its way."
    html: "<p>Thanks! Order <b><input.order_id></b></p>"
"""


async def test_sends_text_and_html(run_yaml: Any, smtp: Inbox) -> None:
    result = await run_yaml(MAIL, {"to": "ann@shop.test", "order_id": "o-1"})
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["accepted"] == ["ann@shop.test"]
    [(rcpts, msg)] = smtp.messages
    assert rcpts == ["ann@shop.test"]
    assert msg["Subject"] == "Order o-1 confirmed" and msg["From"] == "orders@shop.test"
    assert msg["Message-ID"] == out["message_id"]
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in msg.walk()
        if not p.is_multipart()
    }
    assert "o-1 is on its way" in parts["text/plain"]
    assert "<b>o-1</b>" in parts["text/html"]  # <b> is HTML, not a reference


async def test_message_id_is_stable_per_run_and_block(run_yaml: Any, smtp: Inbox) -> None:
    a = await run_yaml(MAIL, {"to": "ann@shop.test", "order_id": "o-2"})
    b = await run_yaml(MAIL, {"to": "ann@shop.test", "order_id": "o-2"})
    assert a["output"]["message_id"] != b["output"]["message_id"]  # different runs
    from blocks.email import message_id

    assert a["output"]["message_id"] == message_id(f"{a['execution_id']}:confirm", "127.0.0.1")


async def test_partly_refused_recipients(run_yaml: Any, smtp: Inbox) -> None:
    result = await run_yaml(MAIL, {"to": ["ann@shop.test", "bob@refused.test"], "order_id": "o-3"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["accepted"] == ["ann@shop.test"]
    all_refused = await run_yaml(MAIL, {"to": "bob@refused.test", "order_id": "o-3"})
    assert all_refused["status"] == "failed" and "refused" in all_refused["error"]["message"]


async def test_missing_smtp_host_is_a_clear_error(
    run_yaml: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_HOST", raising=False)
    result = await run_yaml(MAIL, {"to": "ann@shop.test", "order_id": "o-4"})
    assert result["status"] == "failed" and "SMTP_HOST" in result["error"]["message"]


async def test_starttls_and_login(
    run_yaml: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    inbox = Inbox()
    logins: list[tuple[str, str]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"smtp-pass-123")

    with serving(inbox, **starttls_with_login(tmp_path, authenticator)) as port:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.setenv("SMTP_USER", "mailer")
        monkeypatch.setenv("SMTP_PASSWORD", "smtp-pass-123")
        monkeypatch.setenv("SMTP_TLS_VERIFY", "false")  # the test certificate is self-signed
        result = await run_yaml(MAIL, {"to": "ann@shop.test", "order_id": "o-5"})
    assert result["status"] == "succeeded", result["error"]
    assert logins == [("mailer", "smtp-pass-123")]
    assert len(inbox.messages) == 1
    assert "smtp-pass-123" not in json.dumps(result)


@pytest.mark.parametrize("sender", ["notanemail", "a@x, b@y", "Ann <not an address>"])
async def test_a_sender_that_is_not_one_address_is_refused(
    run_yaml: Any, smtp: Inbox, sender: str
) -> None:
    """`ORDER_EMAIL_FROM=notanemail` went out as `From: notanemail`."""
    wf = MAIL.replace("    type: email\n", f"    type: email\n    from: {json.dumps(sender)}\n")
    result = await run_yaml(wf, {"to": "ann@shop.test", "order_id": "o-5"})
    assert result["status"] == "failed"
    assert "`from`" in result["error"]["message"] and result["blocks"]["confirm"]["attempts"] == 1
    assert smtp.messages == []


async def test_a_sender_with_a_display_name_is_kept(run_yaml: Any, smtp: Inbox) -> None:
    wf = MAIL.replace(
        "    type: email\n", '    type: email\n    from: "Shop Orders <orders@shop.test>"\n'
    )
    result = await run_yaml(wf, {"to": "ann@shop.test", "order_id": "o-6"})
    assert result["status"] == "succeeded", result["error"]
    [(_, msg)] = smtp.messages
    assert msg["From"] == "Shop Orders <orders@shop.test>"


@pytest.mark.parametrize("value", ["", "  "])
async def test_a_sender_from_a_reference_that_comes_out_empty_sends_nothing(
    run_yaml: Any, smtp: Inbox, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """`from: <env.SHOP_FROM>` with the variable set to nothing went out from
    SMTP_FROM, or `flowyard@localhost`, to the customer: a sender the workflow did
    not name. docs/blocks/email.md: a `from` that is not one address fails the block."""
    monkeypatch.setenv("DOC_SHOP_FROM", value)
    wf = MAIL.replace("    type: email\n", "    type: email\n    from: <env.DOC_SHOP_FROM>\n")
    result = await run_yaml(wf, {"to": "ann@shop.test", "order_id": "o-7"})
    assert result["status"] == "failed"
    assert "`from` is empty (<env.DOC_SHOP_FROM> has no value)" in result["error"]["message"]
    assert result["blocks"]["confirm"]["attempts"] == 1
    assert smtp.messages == []
