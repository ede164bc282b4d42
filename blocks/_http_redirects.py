"""What a request a redirect makes must not carry (the HTTP and Slack blocks follow
redirects through httpx, one request at a time: blocks/http.py, ``send``)."""

from __future__ import annotations

from collections.abc import Collection

import httpx

from blocks._http_headers import is_credential_header
from engine.redaction import redact_text


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or {"http": 80, "https": 443}.get(url.scheme)


def _same_site(previous: httpx.URL, following: httpx.URL) -> bool:
    """The same origin, or the same host moved from http to https (where httpx keeps
    ``Authorization``, as browsers do)."""
    was, now = _origin(previous), _origin(following)
    return was == now or (was == ("http", now[1], 80) and now == ("https", was[1], 443))


def redirect_headers(
    previous: httpx.Request, following: httpx.Request, secrets: Collection[str] = ()
) -> None:
    """Take out of the request a redirect makes what httpx leaves in and it must not
    carry. A GET made of a POST (301/302/303) has no body: httpx drops the body, not
    its ``Content-Type`` or the ``Idempotency-Key`` of the write it no longer is. A
    request to another origin carries none of the credentials this block knows:
    httpx drops ``Authorization`` only, an ``X-Api-Key`` went along to whatever host
    the redirect named. Nor any header holding one of the run's ``secrets`` (an
    ``<env.…>`` value), whatever its name: Cloudflare's ``X-Auth-Key`` or Azure's
    ``Ocp-Apim-Subscription-Key`` are named like no credential, and went along too."""
    if following.method == "GET" and previous.method != "GET":
        for name in ("Content-Type", "Idempotency-Key"):
            following.headers.pop(name, None)
    if not _same_site(previous.url, following.url):
        for name, value in list(following.headers.items()):
            if is_credential_header(name) or redact_text(value, secrets) != value:
                following.headers.pop(name, None)
