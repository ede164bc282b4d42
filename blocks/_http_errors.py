"""How an HTTP request's failure is said: its error, whether another attempt can
help, and how long the peer asked to wait (``Retry-After``). Shared by the HTTP,
Slack and Agent blocks."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Iterable
from typing import Any

import httpx

from blocks._http_urls import answered_url
from engine.redaction import excerpt

#: Longest Retry-After the engine waits before the next attempt (a longer one is cut to it).
MAX_RETRY_AFTER = 60.0


class HttpError(RuntimeError):
    """A request that failed; ``retriable`` says whether another attempt can help."""

    kind = "HttpError"

    def __init__(
        self,
        message: str,
        *,
        retriable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: either a number or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # An HTTP date is GMT (RFC 9110) also where its form has no zone (asctime, a
        # `-0000`): read naive, it was taken in the server's own time zone.
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - time.time())


#: How much of a peer's answer a status error quotes.
BODY_EXCERPT = 500


def status_error(
    response: httpx.Response, body: Any, secrets: Iterable[str], url: str
) -> HttpError:
    """The error of a request to ``url`` (as given) answered with a failing status,
    quoting the start of the answer. ``secrets``: the run's, redacted before the
    answer or the URL is cut (a peer echoing the request may hand one back, and a
    cut one is no longer recognised)."""
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    shown = excerpt(text, BODY_EXCERPT, secrets)
    status = response.status_code
    retriable = status == 429 or status >= 500
    retry_after = (
        parse_retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
    )
    return HttpError(
        f"{response.request.method} {answered_url(response.request.url, url, secrets)}"
        f" returned {status}: {shown}",
        retriable=retriable,
        status=status,
        retry_after=retry_after,
    )
