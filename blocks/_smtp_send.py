"""One SMTP send within the block's timeout, knowing whether the message went out.

SMTP has no idempotency key: once the message's data (ending in ``CRLF.CRLF``) has
reached the server, the server may have queued it even if its answer never comes
back (a slow relay, a dropped connection), and sending it again delivers it twice
whatever its ``Message-ID``. So the send notes the moment the data is handed over,
under a lock the block takes when it stops waiting: a send given up on before that
moment never hands its data over afterwards (the thread it runs in cannot be
stopped), and is safe to retry; one given up on after it is not.

Every read and write of the session waits at most until the deadline, so the
thread ends by then (a name lookup that hangs aside: the block stops waiting for it
a little later, and gives the send up).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from typing import Any


class NoTlsForLogin(Exception):
    """The server offers no STARTTLS (or someone struck it from its answer): a login
    would go over the network in clear, so the session ends before it."""


class Handover:
    """Whether the message's data was handed to the server, decided once against
    the block giving up on the send."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self._lock = threading.Lock()
        self.sent = False
        self._given_up = False

    def left(self) -> float:
        """Seconds until the deadline; TimeoutError once it has passed."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        return left

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def hand_over(self) -> None:
        """Called just before the data goes out; TimeoutError if the block gave up."""
        with self._lock:
            if self._given_up:
                raise TimeoutError("timed out")
            self.sent = True

    def give_up(self) -> bool:
        """The block stops waiting: from now on no data goes out. Whether it had."""
        with self._lock:
            self._given_up = True
            return self.sent


class _Watched:
    """An ``smtplib.SMTP`` whose every exchange keeps to the deadline and whose
    message data is handed over through :class:`Handover`."""

    handover: Handover
    _in_data = False

    def _bound(self) -> None:
        sock = getattr(self, "sock", None)
        left = self.handover.left()
        if sock is not None:
            sock.settimeout(left)

    def send(self, s: Any) -> None:
        self._bound()
        if self._in_data and isinstance(s, bytes):  # the data, after the server's 354
            self.handover.hand_over()
        super().send(s)  # type: ignore[misc]

    def getreply(self) -> tuple[int, bytes]:
        self._bound()
        return super().getreply()  # type: ignore[misc]

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._in_data = True
        try:
            return super().data(msg)  # type: ignore[misc]
        finally:
            self._in_data = False


class _SMTP(_Watched, smtplib.SMTP):
    def __init__(self, handover: Handover, *args: Any, **kwargs: Any) -> None:
        self.handover = handover
        super().__init__(*args, **kwargs)


class _SMTP_SSL(_Watched, smtplib.SMTP_SSL):  # noqa: N801 - smtplib's name
    def __init__(self, handover: Handover, *args: Any, **kwargs: Any) -> None:
        self.handover = handover
        super().__init__(*args, **kwargs)


def send_message(
    handover: Handover,
    host: str,
    port: int,
    context: ssl.SSLContext,
    login: tuple[str, str] | None,
    msg: Any,
    recipients: list[str],
) -> list[str]:
    """Blocking send (port 465: implicit TLS, else STARTTLS when offered); returns
    the recipients the server accepted."""
    timeout = handover.left()
    smtp: smtplib.SMTP
    if port == 465:
        smtp = _SMTP_SSL(handover, host, port, timeout=timeout, context=context)
    else:
        smtp = _SMTP(handover, host, port, timeout=timeout)
    try:
        smtp.ehlo()
        encrypted = port == 465
        if not encrypted and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
            encrypted = True
        if login:
            if not encrypted:
                # AUTH PLAIN and LOGIN are base64: the password in clear on the network.
                raise NoTlsForLogin
            smtp.login(*login)
        refused = smtp.send_message(msg, to_addrs=recipients)
    finally:
        # Not `with smtp`: its QUIT raised when answered late or not with 221, and a
        # message the server had accepted was then a failed send, sent again.
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        smtp.close()
    return [r for r in recipients if r not in refused]
