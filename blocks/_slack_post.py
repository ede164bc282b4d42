"""A Slack post within the block's timeout, knowing whether it went out.

Incoming webhooks have no idempotency key: a post the hook may have received must
not be made again, or the channel reads the message twice (or three times with
``retries: 2``). The body goes to the transport as a stream that notes when it is
first read. Until then the request has not been sent (the connection was still
being made, or waited for a free one of the pool), so a timeout there is retried
like a connection error; one after it fails the block for good, and so does a
connection that broke after it (the hook read the message, then the connection
dropped or was reset before its answer).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from blocks._http_errors import HttpError
from blocks.http import send
from engine.context import BlockContext
from engine.executor import BlockFailed


class _WatchedBody:
    """The request body, read once by the transport once the connection is made."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.sent = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.sent = True
        yield self.data


async def post(
    ctx: BlockContext, url: str, message: dict[str, Any], timeout: float | None
) -> httpx.Response:
    """POST ``message`` as JSON (encoded as httpx's ``json=`` does), the whole
    exchange within ``timeout`` seconds."""
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    body = _WatchedBody(data.encode())
    # With its length given, the stream goes out as one plain body, not chunked.
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body.data))}
    try:
        async with asyncio.timeout(timeout):
            # No timeout of the client's own: this one decides, and knows what was sent.
            return await send(ctx, "POST", url, content=body, headers=headers, timeout=None)
    except HttpError as exc:
        if not (body.sent and exc.status is None and exc.retriable):
            raise
        said = (
            f"{exc}, after the message was sent: Slack may have posted it, so it is not "
            "posted again (incoming webhooks have no idempotency key)"
        )
        raise BlockFailed({"type": "HttpError", "message": said, "block": ctx.path}) from None
    except TimeoutError:
        if not body.sent:
            raise TimeoutError(
                f"timed out after {timeout:g} s, before the message was sent"
            ) from None
        said = (
            f"timed out after {timeout:g} s, after the message was sent: Slack may have "
            "posted it, so it is not posted again (incoming webhooks have no idempotency key)"
        )
        raise BlockFailed({"type": "TimeoutError", "message": said, "block": ctx.path}) from None
