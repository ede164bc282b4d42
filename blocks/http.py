"""HTTP Request block: one request through the runtime's pooled ``httpx.AsyncClient``.

Retries are the engine's (``retries``, ``retry_backoff``), so each attempt is in the
run log. This block only decides what is worth retrying: connection errors, timeouts,
429 and 5xx are; any other status is final (a 400 will not turn into a 200). A
``Retry-After`` on 429/503 is honoured by waiting before the engine's next attempt.

Non-GET requests carry ``Idempotency-Key: <execution_id>:<block path>``, the same on
every retry, after a resume and in a re-run from the failed block (the first run's
execution id), so a payment capture retried by us is not charged twice by a peer
that honours the header (Stripe does).
"""

from __future__ import annotations

import sys
import urllib.parse
from collections.abc import Callable, Collection, Iterable
from typing import Any, ClassVar

import httpx

from blocks._http_answers import (
    TooBig,
    answer_text,
    binary_body,
    max_answer_bytes,
    read_answer,
)
from blocks._http_errors import (
    MAX_RETRY_AFTER,
    HttpError,
    status_error,
)
from blocks._http_headers import (
    header_problem,
    is_credential_header,
    is_credential_param,
    written_header_problems,
)
from blocks._http_redirects import redirect_headers
from blocks._http_urls import (
    USERINFO,
    WRITTEN_URL,
    is_http_url,
    no_host,
    scheme_of,
    shown_url,
    transport_words,
    written_credentials,
)
from blocks._http_values import body_text, field_values, header_values, with_query_added
from engine._json import loads_finite
from engine.context import BlockContext, warm_http_client
from engine.executor import BlockFailed
from engine.model import BlockModel, Problem
from engine.registry import BlockHandler, register
from engine.schema import any_case, at_most_one_of_keys

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def is_method(value: str, methods: Iterable[str]) -> bool:
    """Whether ``value`` is one of ``methods`` in any case. ASCII only: ``poſt``
    upper-cases to POST, and was taken for it, while a schema can only say "P, O,
    S, T in either case"."""
    return value.isascii() and value.upper() in methods


def parse_body(response: httpx.Response) -> Any:
    """JSON when the response says so (or looks like it), otherwise text."""
    ctype = response.headers.get("content-type", "")
    text = answer_text(response)
    if "json" in ctype or text[:1] in ("{", "["):
        try:
            return loads_finite(text) if text else None
        except ValueError:
            pass
        except RecursionError:
            # Past Python's recursion limit (~1,000 levels): said as what it is, not
            # as an internal error, and not asked again (the same answer comes back).
            raise HttpError(
                "the answer's JSON is nested too deeply to read (more levels than the"
                f" {sys.getrecursionlimit():,} Python's parser follows)",
                retriable=False,
            ) from None
    return text


def note_basic_auth(ctx: BlockContext, url: str) -> None:
    """Make the ``Authorization: Basic`` token httpx builds from ``user:password@`` in
    ``url`` a secret of the run.

    The token is the credentials, base64-encoded: a peer that echoes its request
    headers (httpbin, an error body quoting them) hands them back readable by anyone.
    Redacted whatever the credentials came from, as the recorded URL shows
    ``[redacted]@`` for them: ``<env.…>``, a webhook's input, a literal.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return  # `send` refuses it: nothing is sent
    if parsed.username or parsed.password:  # as httpx's client decides to send it
        request = httpx.Request("GET", parsed)
        flow = httpx.BasicAuth(parsed.username, parsed.password).auth_flow(request)
        ctx.run.note_secret(next(flow).headers["Authorization"].removeprefix("Basic "))


#: What the derived Idempotency-Key keeps as it is: printable ASCII but `%`.
_KEY_TEXT = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def derived_key(ctx: BlockContext) -> str:
    """The block's ``Idempotency-Key``: ``<execution_id>:<block path>`` as header text.

    A parallel branch may be named in any script or hold a line break (``paiement
    reçu``): the path's other characters, and ``%`` (so a branch named ``%C3%A7`` does
    not get the key of one named ``ç``), are percent-encoded as UTF-8. Sent as they
    were, every POST of such a branch failed before it went out, on a header the
    workflow never set. Any other path's key is the same as before."""
    return urllib.parse.quote(ctx.idempotency_key, safe=_KEY_TEXT)


def _keyed(headers: dict[str, str]) -> bool:
    return any(k.lower() == "idempotency-key" for k in headers)


def settle_failure(ctx: BlockContext, exc: HttpError) -> BaseException:
    """What to raise for a failed attempt.

    A final failure is raised as the engine's ``BlockFailed`` so it is not retried.
    A retriable one is raised as it is, its ``Retry-After`` capped at
    ``MAX_RETRY_AFTER``: the engine waits max(its backoff, Retry-After) before the
    next attempt (engine/executor.py), so waiting here as well would wait twice.
    """
    if not exc.retriable:
        return BlockFailed({"type": exc.kind, "message": str(exc), "block": ctx.path})
    if exc.retry_after is not None:
        exc.retry_after = min(exc.retry_after, MAX_RETRY_AFTER)
    return exc


async def _followed_and_read(
    client: httpx.AsyncClient,
    response: httpx.Response,
    follow_redirects: bool,
    where: Callable[[], str],
    secrets: Collection[str],
) -> httpx.Response:
    """``response`` (streamed), its redirects followed when asked (each request made
    by httpx and cleared by `redirect_headers` of the run's ``secrets``), the last
    one's body read."""
    followed = 0
    while follow_redirects and response.next_request is not None:
        await response.aclose()
        if followed == client.max_redirects:
            # A loop, or a chain no peer needs: another attempt goes the same way.
            raise HttpError(f"{where()}: more than {followed} redirects", retriable=False)
        followed += 1
        following = response.next_request
        redirect_headers(response.request, following, secrets)
        # Its body read (none, or the 307/308 body kept): an unread one went out
        # chunked, a GET with `Transfer-Encoding: chunked` some servers refuse.
        await following.aread()
        response = await client.send(following, stream=True, follow_redirects=False)
    limit = max_answer_bytes()
    try:
        await read_answer(response, limit)
    except TooBig:  # another attempt gets the same answer
        raise HttpError(
            f"{where()}: the answer is bigger than {limit:,} bytes, the most the block "
            "reads (FLOWYARD_MAX_RESPONSE)",
            retriable=False,
        ) from None
    return response


async def send(
    ctx: BlockContext,
    method: str,
    url: str,
    *,
    timeout: float | None = None,
    follow_redirects: bool = False,
    given: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """One request (and the redirects it is answered with, when ``follow_redirects``,
    each request made by httpx and cleared by `redirect_headers`); transport failures
    become a retriable :class:`HttpError`. ``given``: the URL as the block was
    given it, when ``url`` is rewritten from it (``query:`` merged in), for errors."""
    client = ctx.services.http
    given = given or url
    if why := no_host(url):
        raise HttpError(f"{method} {why}", retriable=False)

    def where() -> str:
        # A connection error quoted the URL as written, its password and query with it.
        # Made only for an error: it redacts with the run's secrets.
        return f"{method} {shown_url(given, ctx.run.secrets)}"

    try:
        # Streamed: a body is read up to FLOWYARD_MAX_RESPONSE bytes (_http_answers),
        # a redirect's not at all.
        request = client.build_request(method, url, timeout=timeout, **kwargs)
        response = await client.send(request, stream=True, follow_redirects=False)
        return await _followed_and_read(client, response, follow_redirects, where, ctx.run.secrets)
    except httpx.TimeoutException as exc:
        raise HttpError(f"{where()}: timed out ({type(exc).__name__})", retriable=True) from None
    except httpx.TransportError as exc:
        raise HttpError(
            f"{where()}: {type(exc).__name__}: {transport_words(exc, url, given, ctx.run.secrets)}",
            retriable=True,
        ) from None
    except httpx.DecodingError as exc:
        # A compressed answer cut short or corrupt: another attempt may get it whole.
        raise HttpError(f"{where()}: the answer cannot be read: {exc}", retriable=True) from None
    except httpx.InvalidURL as exc:
        # What is wrong, not the part of the URL httpx quotes ("Invalid port: '…'"):
        # a password with an unencoded `#` or `/` ends up there, cut where the
        # engine can no longer recognise it as the secret it is part of.
        raise HttpError(f"invalid URL: {str(exc).split(':', 1)[0]}", retriable=False) from None


@register
class HttpBlock(BlockHandler):
    type = "http"
    category = "action"
    description = "Send an HTTP request (JSON, form or raw body) and parse the response."
    config_schema: ClassVar[dict[str, Any]] = {
        # Any case (`post` too); problems() checks the name.
        "method": {"type": "string", "default": "GET", "examples": METHODS},
        "url": {"type": "string"},
        "headers": {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "query": {"type": "object"},
        "json": {"description": "A JSON body (any JSON value)."},
        "form": {"type": "object", "description": "A form-encoded body."},
        "body": {"type": "string", "description": "A raw text body."},
        "fail_on_status": {"type": "boolean", "default": True},
    }
    required = ("url",)
    outputs = ("status", "ok", "headers", "body")
    side_effects = True
    # Sent again, a request carries the same Idempotency-Key (or is a GET, HEAD or
    # OPTIONS, which change nothing): the peer drops the repeat.
    repeatable = True
    default_timeout = 30.0

    # Said in words by problems(); the method in any case, as problems() takes it.
    schema_rules = (
        {"properties": {"method": {"pattern": any_case(METHODS)}, "url": {"pattern": WRITTEN_URL}}},
        at_most_one_of_keys("json", "form", "body"),  # the SPEC's "json or form or body"
    )

    def __init__(self, block: BlockModel) -> None:
        super().__init__(block)
        warm_http_client()  # not within the first request's timeout

    def credential_texts(self) -> list[Any]:
        """The values of headers, ``query`` parameters and ``form`` fields named like
        credentials, and the url's (``user:password@``, ``?api_key=…``): what they
        read from the input was kept in clear in the stored input."""
        headers, query, url = (self.config.get(k) for k in ("headers", "query", "url"))
        found: list[Any] = written_credentials(url)
        if isinstance(headers, dict):
            found += [v for k, v in headers.items() if is_credential_header(str(k))]
        for fields in (query, self.config.get("form")):  # an OAuth token request's password
            if isinstance(fields, dict):
                found += [v for k, v in fields.items() if is_credential_param(str(k))]
        return found

    def problems(self) -> list[Problem]:
        # Every problem, not the first: each field's is said whatever the others' are.
        found = []
        bodies = [k for k in ("json", "form", "body") if k in self.config]
        if len(bodies) > 1:
            message = f"use one of json, form and body, not {' and '.join(bodies)}"
            found.append(Problem(message, block=self.block.id, field=bodies[1]))
        method = self.config.get("method")
        if isinstance(method, str) and not is_method(method, METHODS):
            found.append(Problem(f"unknown method {method!r}", block=self.block.id, field="method"))
        url = self.config.get("url")
        if isinstance(url, str) and not url.strip():
            found.append(Problem("the url is empty", block=self.block.id, field="url"))
        elif isinstance(url, str) and not url.startswith("<") and not is_http_url(url):
            # Written out (no reference where the scheme goes), it can only fail at run
            # time, as it did: `url: ftp://…` passed validate.
            message = f"the url must start with http:// or https://, {scheme_of(url)}"
            found.append(Problem(message, block=self.block.id, field="url"))
        for field, why in written_header_problems(self.config.get("headers")):
            found.append(Problem(why, block=self.block.id, field=field))
        return found

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        method = str(config.get("method") or "GET").upper()
        url = str(config.get("url") or "")
        headers = header_values(config.get("headers"))
        if method not in SAFE_METHODS and not any(
            k.lower() == "idempotency-key" and v for k, v in headers.items()
        ):
            # None set, or one that came out empty (`"<a.key?>"` inside text): the
            # derived key, as an empty key would be every run's same key, and the
            # peer would answer each later capture with the first one's response.
            headers = {k: v for k, v in headers.items() if k.lower() != "idempotency-key"}
            headers["Idempotency-Key"] = derived_key(ctx)
        body = body_text(config.get("body"))  # one of json, form and body (problems())
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "text/plain; charset=utf-8"  # a header of yours wins
        # The run viewer shows what was sent, but not credentials that did not come
        # from <env.…> (those the engine redacts anyway). Set before anything can
        # fail: a failed block's record carries its inputs too.
        ctx.inputs = {
            **config,
            "url": USERINFO.sub(r"\1[redacted]@", url),
            "method": method,
            "headers": {
                k: "[redacted]" if is_credential_header(k) else v for k, v in headers.items()
            },
        }
        if not is_http_url(url):
            raise BlockFailed(
                {
                    "type": "HttpError",
                    "message": f"the url must start with http:// or https://, {scheme_of(url)}",
                    "block": ctx.path,
                }
            )
        for name, value in headers.items():
            # What references resolved to (the text written around them was checked
            # at validation): httpx raised a bare UnicodeEncodeError naming no header.
            if why := header_problem(name, value):
                raise BlockFailed({"type": "HttpError", "message": why, "block": ctx.path})
        # Errors name the URL as given: one holding a secret is recognised as such.
        kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": True, "given": url}
        if config.get("query"):
            params = field_values(config["query"])
            # Added to the url's own query (`?pre=1`), which httpx's params= replaced.
            try:
                url = with_query_added(url, params)
            except httpx.InvalidURL:
                kwargs["params"] = params  # `send` says what is wrong, without the url
        note_basic_auth(ctx, url)
        if "json" in config:
            kwargs["json"] = config["json"]
        elif "form" in config:
            kwargs["data"] = field_values(config["form"])
        elif body is not None:
            kwargs["content"] = body
        timeout = ctx.block.timeout if ctx.block.timeout is not None else self.default_timeout
        try:
            response = await send(ctx, method, url, timeout=timeout, **kwargs)
            encoded = binary_body(response)
            body_out = parse_body(response) if encoded is None else encoded
            if config.get("fail_on_status", True) and not response.is_success:
                exc = status_error(response, body_out, ctx.run.secrets, kwargs["given"])
                # A 409 to a keyed request: the first request with that key is still
                # being processed (Stripe's idempotency_key_in_use); asked again
                # later, the peer answers with its outcome.
                exc.retriable |= exc.status == 409 and _keyed(headers)
                raise exc
        except HttpError as exc:
            raise settle_failure(ctx, exc) from None
        out = {
            "status": response.status_code,
            "ok": response.is_success,
            "headers": dict(response.headers.items()),
            "body": body_out,
        }
        return out if encoded is None else {**out, "body_encoding": "base64"}
