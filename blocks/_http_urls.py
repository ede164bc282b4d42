"""A request's URL as the HTTP and Slack blocks' errors say it.

Never all of it: a key or token often rides in the query, credentials in
``user:password@``. And never part of a secret: a URL read from ``<env.…>``
(a Discord or Slack hook, whose path is the token) is redacted before its query
is cut off. Cut first, what was left (``…/api/webhooks/123/DiscordTok999`` of
``…/DiscordTok999?wait=true``) was no longer the secret's text, and the run's
redaction kept it in clear.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote_plus

import httpx

from blocks._http_headers import is_credential_param
from engine.redaction import redact_text

#: ``user:password@`` after the scheme: basic-auth credentials, kept out of records.
USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@]*@")

#: Where a URL's query or fragment starts.
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


def written_credentials(url: Any) -> list[str]:
    """The parts of a url as written that carry credentials, for the references in
    them (engine/credentials.py): its ``user:password@``, sent as Basic auth, and the
    values of its own query's parameters named like one (``?api_key=<input.key>``,
    not ``pageToken``), as the ``query:`` mapping's are; nothing for what is no text."""
    if not isinstance(url, str):
        return []
    userinfo = USERINFO.match(url)
    found = [userinfo[0]] if userinfo else []
    for pair in url.partition("#")[0].partition("?")[2].split("&"):
        name, _, value = pair.partition("=")
        if value and is_credential_param(unquote_plus(name)):
            found.append(value)
    return found


def is_http_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


#: What the HTTP and Slack blocks accept as a URL written in the file: one starting
#: with a reference (checked once resolved) or with http:// or https://, in any case
#: (:func:`is_http_url`: no other character lower-cases to one of these).
WRITTEN_URL = r"^(?:<|[Hh][Tt][Tt][Pp][Ss]?://)"


def scheme_of(url: str) -> str:
    """What a refused URL starts with, for its error: never the rest of it. Part of
    a URL cut short may be part of a token the engine can no longer recognise."""
    scheme, sep, _ = url.partition("://")
    return f"not {scheme}://" if sep and scheme.isalnum() else "and this one has no scheme"


def no_host(url: str) -> str | None:
    """Why no request is made of ``url`` when it names no host (``https:///v1``,
    ``http://:8080/x``): a reference where the host goes came out empty, such as an
    unset setting. httpx said ``UnsupportedProtocol: /v1`` of it (the protocol was
    https), and the block retried what can only fail the same way. The URL is not
    quoted: its path may hold a token."""
    with contextlib.suppress(httpx.InvalidURL):  # send() says what is wrong then
        if not httpx.URL(url).host:
            return "not sent: the url names no host (did a reference where it goes come out empty?)"
    return None


def shown_url(url: str | httpx.URL, secrets: Iterable[str] = ()) -> str:
    """The URL as an error message says it: no ``user:password@``, query or
    fragment. One holding a secret of the run: its text with the secrets as
    ``***`` first, then cut the same way (``POST ***`` for a URL that is one)."""
    text = str(url)
    redacted = redact_text(text, secrets)
    if redacted != text:
        return USERINFO.sub(r"\1", _QUERY_OR_FRAGMENT.split(redacted, maxsplit=1)[0])
    try:
        return str(httpx.URL(url).copy_with(userinfo=b"", query=None, fragment=None))
    except (httpx.InvalidURL, TypeError):
        return "the URL"


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` that are credentials when it comes from the environment:
    the password of its ``user:password@`` and the values of its query (a proxy's
    login, an ``?api-key=``). Nothing for a URL that does not parse."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return []
    found = [parsed.password] if parsed.password else []
    return found + [value for _, value in parsed.params.multi_items() if value]


def answered_url(final: httpx.URL, given: str, secrets: Iterable[str]) -> str:
    """The URL a status error names: the one that answered (a redirect's target),
    or the URL as given when it held a secret. httpx writes a URL its own way
    (the host lower-cased, ``:443`` dropped, characters percent-encoded), which
    may no longer be the secret's text; the target of a redirect of a secret
    hook URL is likely to hold its token too."""
    if redact_text(given, secrets) != given:
        return shown_url(given, secrets)
    return shown_url(final, secrets)


def transport_words(exc: httpx.TransportError, url: str, given: str, secrets: Iterable[str]) -> str:
    """The transport's own words, without the query or credentials of the URL it may
    quote (aiohttp names the URL it could not reach or read), nor any of the run's
    secrets, nor the path of a URL given holding one (its token, as aiohttp wrote
    it). ``url``: the one sent; ``given``: as the block was given it."""
    text = redact_text(str(exc), secrets)
    holds_secret = redact_text(given, secrets) != given
    urls = [url, given]
    with contextlib.suppress(RuntimeError):  # no request attached
        urls.append(str(exc.request.url))
    for each in urls:
        with contextlib.suppress(httpx.InvalidURL, TypeError):
            parsed = httpx.URL(each)
            pieces = [parsed.query, parsed.userinfo, parsed.fragment.encode()]
            if holds_secret and parsed.raw_path.split(b"?")[0] not in (b"", b"/"):
                pieces += [parsed.raw_path.split(b"?")[0], parsed.path.encode()]
            for piece in pieces:
                if piece:
                    text = text.replace(piece.decode(errors="replace"), "…")
    return text
