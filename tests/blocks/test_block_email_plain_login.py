"""The Email block never sends SMTP_PASSWORD over a connection that is not
encrypted (a real SMTP server, aiosmtpd, on 127.0.0.1).

STARTTLS was used when the server offered it, and the login went ahead without it
when it did not: a server that offers none, or anyone on the way who strikes
`STARTTLS` from its EHLO answer (a downgrade), read the password (AUTH PLAIN and
LOGIN are base64).
"""

from __future__ import annotations

from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from standins.smtp import Inbox, serving

MAIL = """
version: 1
name: email_plain_login
blocks:
  confirm:
    type: email
    to: ann@shop.test
    subject: Order confirmed
    text: Thanks!
    retries: 2
"""


async def test_no_login_without_tls(run_yaml: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = Inbox()
    logins: list[tuple[str, str]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=True)

    # No STARTTLS offered, and a login taken in clear.
    with serving(inbox, authenticator=authenticator, auth_require_tls=False) as port:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.setenv("SMTP_USER", "mailer")
        monkeypatch.setenv("SMTP_PASSWORD", "smtp-pass-in-clear-7")
        result = await run_yaml(MAIL)
    assert logins == []  # the password never went out
    assert inbox.messages == []
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "STARTTLS" in message and "SMTP_PASSWORD" in message, message
    assert result["blocks"]["confirm"]["attempts"] == 1  # another attempt would fare the same
