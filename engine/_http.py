"""The runtime's HTTP client: httpx's API over aiohttp's connection handling.

httpx stays the surface every block uses (requests, responses, errors,
redirects, timeouts). Underneath, ``httpx-aiohttp`` (by httpx's maintainer)
sends the requests with aiohttp: at a busy webhook's run rate, httpcore's
connection pool and anyio streams cost about 1 ms of CPU per request, a fifth
of a whole Order Processing run, and aiohttp's HTTP/1.1 client a fraction of it
(docs/performance.md).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl
import urllib.request
from collections.abc import Mapping

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

MAX_CONNECTIONS = 100  # in flight at once, across every run of the runtime
#: In flight at once to one host (and port): one slow peer took all 100, and every
#: other HTTP and Slack block of every workflow, whatever host it called, waited for
#: one of them until its timeout ("timed out after 5 s" to a peer answering at once).
MAX_CONNECTIONS_PER_HOST = MAX_CONNECTIONS // 2
KEEPALIVE_S = 5.0  # an idle connection is closed after this (httpx's default)


class _Transport(AiohttpTransport):
    """Errors named for what happened, and credentials in a URL sent once.

    The library maps every aiohttp connection error to ``ConnectTimeout``; a
    refused or dropped connection would then tell the user their peer is slow
    when it is down. Deadlines aiohttp raises as a bare ``TimeoutError`` become
    httpx timeouts, so the HTTP block retries them like any other.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.userinfo:
            # httpx has turned `user:password@` into an Authorization header;
            # aiohttp refuses a URL that still carries them beside it.
            request.url = request.url.copy_with(userinfo=b"")
        try:
            return await super().handle_async_request(request)
        except httpx.TimeoutException as exc:
            cause = exc.__cause__
            if cause is None or isinstance(cause, TimeoutError):
                raise
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(exc), request=request) from cause
            raise httpx.ReadError(str(exc), request=request) from cause
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientResponseError as exc:
            # An answer aiohttp could not read (a malformed status line or framing):
            # the library let it through as is, and the HTTP block failed with
            # aiohttp's error instead of its own, retriable one.
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    return httpx.create_ssl_context()  # reads SSL_CERT_FILE / SSL_CERT_DIR: the cache key


def tls_context() -> ssl.SSLContext:
    """The certificates the client trusts (docs/blocks/http.md, "Certificates"), built
    once per SSL_CERT_FILE / SSL_CERT_DIR, when a workflow with an HTTP or Slack block
    is loaded (engine.context.warm_http_client). Built by each client, its transports
    and its first connection instead, it took ~50 ms of CPU apiece (reading certifi's
    bundle) from the first request's `timeout`."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


def _session() -> aiohttp.ClientSession:
    """aiohttp's pool, made on first use (inside the runtime's event loop).

    No Content-Type of aiohttp's own: httpx has set the one the body has (JSON, a
    form), and aiohttp would add ``application/octet-stream`` to any other POST,
    PUT or PATCH, a text body or none at all."""
    connector = aiohttp.TCPConnector(
        limit=MAX_CONNECTIONS,
        limit_per_host=MAX_CONNECTIONS_PER_HOST,
        keepalive_timeout=KEEPALIVE_S,
        ssl=tls_context(),
    )
    return aiohttp.ClientSession(connector=connector, skip_auto_headers=("Content-Type",))


def proxy_mounts(env: Mapping[str, str]) -> dict[str, str | None]:
    """httpx mount patterns for HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY
    (``urllib.request.getproxies()`` form): proxy URL, or None to go direct.

    httpx ignores these variables once a transport is given, and aiohttp's own
    ``trust_env`` reads the whole environment again on every request; reading
    them once, here, keeps proxies working at no cost per request.
    """
    mounts: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if env.get(scheme):
            mounts[f"{scheme}://"] = env[scheme]
    for host in (h.strip() for h in env.get("no", "").split(",")):
        if host == "*":
            return {}
        if host:
            mounts[_no_proxy_pattern(host)] = None
    return mounts


def _no_proxy_pattern(host: str) -> str:
    """The httpx mount pattern of one NO_PROXY entry.

    An entry may carry a port (``127.0.0.1:8080``, ``shop.test:443``) and an IPv6
    address may come in brackets (``[::1]``): taken for a bare IPv6 address, each
    became ``all://[shop.test:443]``, a pattern httpx refuses, and every HTTP and
    Slack block of the process failed with ``Invalid IPv6 address``."""
    if "://" in host:
        return host
    if host.startswith("["):  # [::1] or [::1]:8080: written as a URL writes it
        return f"all://{host}"
    if _is_address(host):  # a bare IPv6 address's colons are no port
        return f"all://[{host}]" if ":" in host else f"all://{host}"
    name, _, port = host.rpartition(":")
    if host.lower() == "localhost" or (
        port.isdigit() and (_is_address(name) or name.lower() == "localhost")
    ):
        return f"all://{host}"
    return f"all://*{host}"  # a domain (and port): itself and its subdomains, as httpx reads it


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        pass


class _Client(httpx.AsyncClient):
    """The client every run of every workflow shares: it must not carry state from
    one run to the next, so a cookie a peer sets for one run is never sent with
    another's request (a request's own ``Cookie`` header is sent as given). Not
    storing them also saves httpx's cookie parsing, ~15 % of a request's CPU."""

    @property
    def cookies(self) -> httpx.Cookies:
        return _NO_COOKIES

    @cookies.setter
    def cookies(self, value: object) -> None:
        if value:
            raise ValueError("the runtime's HTTP client keeps no cookies")


_NO_COOKIES = _NoCookies()


def new_client() -> httpx.AsyncClient:
    """A pooled client (keep-alive across runs); one per runtime."""
    tls = tls_context()  # a transport builds one of its own unless given one
    mounts = {
        pattern: _Transport(client=_session, verify=tls, proxy=httpx.Proxy(url) if url else None)
        for pattern, url in proxy_mounts(urllib.request.getproxies()).items()
    }
    return _Client(timeout=30.0, transport=_Transport(client=_session, verify=tls), mounts=mounts)
