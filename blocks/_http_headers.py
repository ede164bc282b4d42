"""Which headers the HTTP block can send: a name HTTP allows, and a value of ASCII text.

httpx encodes a header value as ASCII and raised a bare ``UnicodeEncodeError`` for
``X-Name: José ✓``, naming neither block field nor header; aiohttp refused a line
break with "Potential header injection attack". Sending UTF-8 bytes instead would
reach a peer that reads headers as ISO-8859-1 (as HTTP/1.1 long specified) as
``JosÃ©``: a value silently changed. So the block refuses it naming the header, as
Node (under n8n) does for a character past ISO-8859-1: at validation for the text
written in the file, at run time for what references resolved to. The value itself
is never quoted: a header may carry a credential.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.references import REFERENCE_RE

#: A header name: an RFC 9110 token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: A character a header value cannot hold as text: outside ASCII, or a control
#: character (tab is allowed): a line break or NUL would end or split the header.
_NOT_SENDABLE = re.compile(r"[^\t\x20-\x7e]")


def header_problem(name: str, value: str) -> str | None:
    """Why header ``name`` with ``value`` cannot be sent, or None."""
    if not _TOKEN.fullmatch(name):
        return (
            f"header name {name!r} is not one HTTP allows: letters, digits and "
            "!#$%&'*+-.^_`|~, with no spaces or colons"
        )
    bad = _NOT_SENDABLE.search(value)
    if bad is None:
        return None
    if bad.group() > "\x7f":
        return (
            f"header {name!r}: its value holds text outside ASCII, which an HTTP header "
            "does not carry as text (each peer reads such bytes its own way): "
            "percent-encode it (é as %C3%A9) or send it in the body"
        )
    return (
        f"header {name!r}: its value holds a control character (a line break, NUL or "
        "the like), which would end the header"
    )


def written_header_problems(headers: Any) -> list[tuple[str, str]]:
    """(field, problem) for each header of the block's config that can never be sent:
    its name, or the text written around the references of its value (which are
    checked once resolved, by ``header_problem``)."""
    if not isinstance(headers, Mapping):
        return []  # a reference: checked at run time
    found = []
    for name, value in headers.items():
        written = REFERENCE_RE.sub("", value) if isinstance(value, str) else ""
        if why := header_problem(str(name), written):
            found.append((f"headers.{name}", why))
    return found


CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
)
#: Words that make any other header a credential too: vendors name their own
#: (GitLab's PRIVATE-TOKEN and X-Gitlab-Token, Telegram's X-Telegram-Bot-Api-Secret-Token).
CREDENTIAL_WORDS = ("token", "secret", "password", "api-key", "apikey")


def is_credential_header(name: str) -> bool:
    """Whether a header carries a credential, by its name in any case, with ``-``
    or ``_`` (``X-Api-Key``, ``x_gitlab_token``)."""
    key = name.lower().replace("_", "-")
    return key in CREDENTIAL_HEADERS or any(word in key for word in CREDENTIAL_WORDS)


#: Query parameters that carry a credential, by name (lower case, `-` as `_`).
_CREDENTIAL_PARAMS = frozenset(
    {"api_key", "apikey", "access_token", "auth_token", "token", "client_secret", "secret",
     "password", "signature", "sig"}
)  # fmt: skip


def is_credential_param(name: str) -> bool:
    """Whether a query parameter carries a credential, by its name (``api_key``,
    ``access_token``; not ``pageToken``, which points into a list)."""
    return name.lower().replace("-", "_") in _CREDENTIAL_PARAMS
