"""A real SMTP server (aiosmtpd) on 127.0.0.1 standing in for a mail relay."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from processes import free_port


class Inbox:
    """An aiosmtpd handler that keeps what it receives and refuses *@refused.test."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.Message]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.endswith("@refused.test"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 Message accepted"


@contextlib.contextmanager
def serving(handler: Any, **controller: Any) -> Iterator[int]:
    """``handler`` served on a free port (yielded) until the block ends."""
    port = free_port()
    server = Controller(handler, hostname="127.0.0.1", port=port, **controller)
    server.start()
    try:
        yield port
    finally:
        server.stop()


def starttls_with_login(tmp: Path, authenticator: Callable[..., Any]) -> dict[str, Any]:
    """Controller settings for a server that refuses anything before STARTTLS and
    checks logins with ``authenticator`` (a self-signed certificate in ``tmp``)."""
    return {
        "tls_context": self_signed(tmp),
        "require_starttls": True,
        "authenticator": authenticator,
        "auth_require_tls": True,
    }


def self_signed(tmp: Path) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx
