"""Email block: send one message over SMTP (smtplib in a worker thread).

Server settings come from the environment (``SMTP_HOST``, ``SMTP_PORT``,
``SMTP_USER``, ``SMTP_PASSWORD``; ``SMTP_FROM`` for the default sender), so
credentials never sit in a workflow file or a run record. STARTTLS is used whenever
the server offers it, and port 465 means implicit TLS.

The ``Message-ID`` is derived from the execution id and block path: a retried or
resumed send carries the same id, so a receiving system can drop the duplicate.
Header fields are refused when they hold a line break (no injected Bcc), and a
permanent (5xx) SMTP answer is not retried, nor is a send that got no answer after
its message went out (blocks/_smtp_send.py): SMTP servers deliver a repeat.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, getaddresses
from typing import Any, ClassVar

from blocks._smtp_send import Handover, NoTlsForLogin, send_message
from engine.context import BlockContext
from engine.executor import BlockFailed
from engine.model import Problem
from engine.references import compile_value, masked, parse, references_in, to_text
from engine.registry import BlockHandler, register
from engine.schema import any_of_keys

#: How long after its own deadline a send is waited for (blocks/_smtp_send.py).
BACKSTOP_S = 1.0


class EmailError(RuntimeError):
    """A failed send; ``retriable`` is False when another attempt cannot help."""

    kind = "EmailError"

    def __init__(self, message: str, *, retriable: bool = True) -> None:
        super().__init__(message)
        self.retriable = retriable


#: Every character Python's header code takes as a line break, not only CR and LF.
_LINE_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
#: ``local@domain``: a local part without the characters that end or quote one, and
#: a domain of labels (letters, digits, inner hyphens) with dots between. Anything
#: looser let ``a@x..y``, ``a@-`` and the ``'b@c.d'}`` of an object's text through.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"[^@\s<>(),;:\"\[\]]+@{_LABEL}(?:\.{_LABEL})*")


def single_line(field: str, value: Any) -> str:
    """``value`` as header text, refused when it holds a line break: a reference
    resolving to an address, a CR/LF and ``Bcc: someone`` must not add a recipient
    (getaddresses reads both lines) or a header. A value that is not text is its
    text as everywhere else (``true``, JSON for an object), not Python's."""
    text = to_text(value)
    if any(c in _LINE_BREAKS for c in text):
        raise EmailError(f"`{field}` contains a line break", retriable=False)
    return text


def put_header(msg: EmailMessage, name: str, field: str, text: str) -> None:
    """Set header ``name`` to ``text`` (checked by `single_line`), refused when it
    holds a line break as the email package reads it: that decodes RFC 2047 encoded
    words (``=?utf-8?q?1=0D=0ABcc:_x@evil.test?=``) and wrote the CR/LF they hid into
    the message as they were, adding a header or, with a blank line, replacing the
    body with the sender's text."""
    msg[name] = text
    if any(c in _LINE_BREAKS for c in str(msg[name])):
        del msg[name]
        raise EmailError(f"`{field}` contains a line break (in an encoded word)", retriable=False)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    sender: str | None
    tls_verify: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpSettings:
        env = os.environ if env is None else env
        host = env.get("SMTP_HOST")
        if not host:
            raise EmailError(
                "SMTP_HOST is not set: the Email block needs an SMTP server", retriable=False
            )
        try:
            port = int(env.get("SMTP_PORT") or 587)
        except ValueError:
            raise EmailError("SMTP_PORT is not a number", retriable=False) from None
        return cls(
            host=host,
            port=port,
            user=env.get("SMTP_USER") or None,
            password=env.get("SMTP_PASSWORD") or None,
            sender=env.get("SMTP_FROM") or None,
            tls_verify=(env.get("SMTP_TLS_VERIFY", "true").lower() not in ("0", "false", "no")),
        )


def addresses(field: str, value: Any, from_data: bool = False) -> list[tuple[str, str]]:
    """``"a@x, B <b@y>"`` or a list of them → ``(display name, address)`` pairs.

    ``from_data``: the field is a reference, so each value is one address. A
    webhook's ``"a@x, victim@y"`` (or an RFC 2047 word hiding a comma) must not
    send the message to more people than the workflow names."""
    if value in (None, ""):
        return []
    found = []
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if not isinstance(item, str):
            # An object's text (`{"a": "b@c.d"}`) holds an address getaddresses
            # would dig out; data that is not text names no recipient.
            raise EmailError(
                f"`{field}` holds {_kind(item)}, not an email address as text", retriable=False
            )
        text = single_line(field, item)
        parsed = [(name, addr) for name, addr in getaddresses([text]) if addr]
        if from_data and len(parsed) != 1:
            raise EmailError(
                f"`{field}` comes from the data, so each value is one address, not {text!r}",
                retriable=False,
            )
        for _, addr in parsed:
            if not (addr.isascii() and _ADDRESS.fullmatch(addr)):
                raise EmailError(f"`{field}`: {addr!r} is not an email address", retriable=False)
        found += parsed
    return found


def list_items(text: str) -> list[str]:
    """``text`` split at the commas that separate addresses, as getaddresses reads
    them: not those in a quoted name (``"Doe, John" <j@x>``), a comment
    (``j@x (Doe, John)``) or angle brackets. References are masked first, so what a
    reference's path holds is never taken for a quote or a bracket."""
    plain = masked(text, parse(text))
    items, start, quoted, escaped, depth, angled = [], 0, False, False, 0, False
    for i, c in enumerate(plain):
        if escaped:
            escaped = False
        elif c == "\\" and (quoted or depth):
            escaped = True
        elif c == '"' and not depth:
            quoted = not quoted
        elif quoted:
            continue
        elif c == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif depth:
            continue
        elif c in "<>":
            angled = c == "<"
        elif c == "," and not angled:
            items.append(text[start:i])
            start = i + 1
    return [*items, text[start:]]


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list inside a list"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, (int, float)) else "null"


def _is_reference(raw: Any) -> bool:
    """Whether a field's value, as the workflow file has it, holds a reference."""
    return next(references_in(raw), None) is not None


def once(addrs: Iterable[str]) -> list[str]:
    """Each address once, in order of first mention: a recipient in `to` and `bcc`
    (or twice in a list from the data) was a `RCPT TO` each, and a server that does
    not fold repeats delivered the message twice. Domains are the same in any case,
    local parts not (RFC 5321), so `Ann@x` and `ann@x` stay two."""
    seen: set[str] = set()
    found = []
    for addr in addrs:
        local, _, domain = addr.rpartition("@")
        if (key := f"{local}@{domain.lower()}") not in seen:
            seen.add(key)
            found.append(addr)
    return found


def message_id(idempotency_key: str, host: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}@flowyard.{host or 'localhost'}>"


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not settings.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def all_transient(replies: Iterable[tuple[int, bytes]]) -> bool:
    """Whether every refusal was a 4xx (try later) rather than a 5xx (never)."""
    return all(400 <= code < 500 for code, _ in replies)


@register
class EmailBlock(BlockHandler):
    type = "email"
    category = "action"
    description = "Send an email over SMTP (server from SMTP_* environment variables)."
    config_schema: ClassVar[dict[str, Any]] = {
        "to": {
            "type": ["string", "array"],
            "description": "Recipient(s): an address, a comma-separated list or a list",
        },
        "cc": {"type": ["string", "array"]},
        "bcc": {"type": ["string", "array"]},
        "from": {"type": "string", "description": "Sender; default SMTP_FROM, then SMTP_USER"},
        "reply_to": {"type": "string"},
        "subject": {"type": "string"},
        "text": {"type": "string", "description": "Plain-text body"},
        "html": {"type": "string", "description": "HTML body (sent with text as the alternative)"},
    }
    required = ("to", "subject")
    schema_rules = (any_of_keys("text", "html"),)  # said in words by problems()
    outputs = ("message_id", "accepted")
    side_effects = True
    # Its Message-ID is the same on a repeat, but SMTP servers deliver it again.
    repeatable = False
    recorded_at_once = True
    default_timeout = 60.0
    # The send keeps to `timeout` itself: given up on after its message went out,
    # it is not retried; before, it is (blocks/_smtp_send.py).
    times_itself = True

    def problems(self) -> list[Problem]:
        if "text" not in self.config and "html" not in self.config:
            return [Problem("give a text or html body", block=self.block.id, field="text")]
        return []

    def _recipients(self, ctx: BlockContext, field: str, value: Any) -> list[tuple[str, str]]:
        """The field's addresses: one per value a reference gives, any number in
        text written in the file (``"ops@shop, <input.email>"`` splits first, so
        the reference's part is held to one address and the written ones are not)."""
        raw = self.config.get(field)
        if isinstance(raw, str) and "," in raw and _is_reference(raw):
            found = []
            for part in (p.strip() for p in list_items(raw)):
                if _is_reference(part):
                    found += addresses(field, compile_value(part).resolve(ctx.frame), True)
                else:
                    found += addresses(field, part)
            return found
        return addresses(field, value, _is_reference(raw))

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        settings = SmtpSettings.from_env()
        if settings.password:
            ctx.run.note_secret(settings.password)
        to, cc, bcc = (self._recipients(ctx, f, config.get(f)) for f in ("to", "cc", "bcc"))
        # Addresses like the recipients': `{'a': 1}` went out as a Reply-To header.
        reply_to = self._recipients(ctx, "reply_to", config.get("reply_to"))
        if not to:
            raise EmailError("no recipient: `to` is empty", retriable=False)
        # SMTP_USER is a default sender only when it is an address: a login name
        # (`mailer`, SendGrid's `apikey`) is not one.
        login_address = settings.user if settings.user and "@" in settings.user else None
        if self.came_out_empty("from", config):
            # `<env.SHOP_FROM>` set to nothing: the defaults below are for a `from` left
            # out; in its place the customer got mail from SMTP_FROM or flowyard@localhost.
            raise EmailError(
                f"`from` is empty ({self.config['from']} has no value)", retriable=False
            )
        raw_sender = config.get("from") or settings.sender or login_address or "flowyard@localhost"
        # One address, checked like a recipient's: `notanemail` went out as From.
        senders = addresses("from", raw_sender)
        if len(senders) != 1:
            shown = single_line("from", raw_sender)
            raise EmailError(f"`from` must be one email address, not {shown!r}", retriable=False)
        sender = formataddr(senders[0])
        text, html = config.get("text"), config.get("html")
        msg = EmailMessage()
        try:
            put_header(msg, "From", "from", sender)
            # Display names kept ("Ann B <ann@x>"), encoded by formataddr when not ASCII.
            put_header(msg, "To", "to", ", ".join(formataddr(pair) for pair in to))
            if cc:
                put_header(msg, "Cc", "cc", ", ".join(formataddr(pair) for pair in cc))
            if reply_to:
                shown = ", ".join(formataddr(pair) for pair in reply_to)
                put_header(msg, "Reply-To", "reply_to", shown)
            subject = single_line("subject", config.get("subject") or "")
            put_header(msg, "Subject", "subject", subject)
            msg["Date"] = formatdate(usegmt=True)  # RFC 5322; relays do not add it
            msg["Message-ID"] = message_id(ctx.idempotency_key, settings.host)
            # `text: <a.order>` is the order's JSON, as inside longer text.
            msg.set_content(to_text(text) if text is not None else "This message has an HTML body.")
            if html is not None:
                msg.add_alternative(to_text(html), subtype="html")
        except (ValueError, TypeError) as exc:  # a header Python's email package refuses
            raise EmailError(f"the message cannot be built: {exc}", retriable=False) from None
        recipients = once([addr for _, addr in to + cc + bcc])
        ctx.inputs = {
            "from": sender,
            "to": [addr for _, addr in to],
            "cc": [addr for _, addr in cc],
            "bcc": [addr for _, addr in bcc],
            "subject": msg["Subject"],
            "smtp": f"{settings.host}:{settings.port}",
        }
        timeout = ctx.block.timeout or self.default_timeout or 60.0
        handover = Handover(timeout)
        login = (settings.user, settings.password or "") if settings.user else None
        where = f"SMTP {settings.host}:{settings.port}"
        try:
            # The send keeps to `timeout` itself (every read and write of its session
            # waits at most until then); this is a backstop, for a name lookup that hangs.
            async with asyncio.timeout(timeout + BACKSTOP_S):
                accepted = await asyncio.to_thread(
                    send_message,
                    handover,
                    settings.host,
                    settings.port,
                    tls_context(settings),
                    login,
                    msg,
                    recipients,
                )
        except asyncio.CancelledError:
            # The run is cancelled or its process stops: the thread goes on, but a
            # message not yet handed over is not sent behind the run's back.
            handover.give_up()
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            raise EmailError(
                f"every recipient was refused: {sorted(exc.recipients)}",
                retriable=all_transient(exc.recipients.values()),
            ) from None
        except NoTlsForLogin:
            raise EmailError(
                f"{where} offers no STARTTLS: the login (SMTP_USER, SMTP_PASSWORD) would go"
                " over the network in clear, so nothing was sent. Use a port with TLS (465,"
                " or one whose server offers STARTTLS), or unset SMTP_USER for a relay that"
                " needs no login",
                retriable=False,
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            # Not retried: repeating a refused login can lock the account.
            raise EmailError(f"SMTP login failed ({exc.smtp_code})", retriable=False) from None
        except (smtplib.SMTPException, OSError) as exc:  # a timeout too
            code = getattr(exc, "smtp_code", None)
            timed_out = handover.expired()
            what = f"timed out after {timeout:g} s" if timed_out else f"{type(exc).__name__}: {exc}"
            # From now on no data goes out (a thread left behind by the backstop).
            if handover.give_up() and not isinstance(code, int):
                # No answer to the message's data: the server may have queued it.
                raise _not_again(ctx, where, what) from None
            if timed_out:
                what += ", before the message was sent"
            raise EmailError(
                f"{where}: {what}", retriable=not (isinstance(code, int) and code >= 500)
            ) from None
        return {"message_id": msg["Message-ID"], "accepted": accepted}


def _not_again(ctx: BlockContext, where: str, what: str) -> BlockFailed:
    """The final failure of a send that got no answer after its message went out."""
    said = (
        f"{where}: {what}, after the message was sent: the server may have accepted "
        "it, so it is not sent again (SMTP has no idempotency key)"
    )
    return BlockFailed({"type": "EmailError", "message": said, "block": ctx.path})
