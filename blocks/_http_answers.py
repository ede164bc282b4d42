"""How much of an answer the HTTP and Slack blocks read: at most
``FLOWYARD_MAX_RESPONSE`` bytes (default 64 MiB), as decoded.

Read whole and unbounded, an answer that never ended (a broken or hostile peer, a
URL that turned out to be a video) or a small gzip body inflating to gigabytes
grew the process by gigabytes a second until the block's timeout, or until the
kernel killed the server and every run in it. A resume then ran the same request
again, and was killed again. The limit matches the most a run record keeps of an
output (engine/_recordable.py): a bigger body could not be recorded anyway.
"""

from __future__ import annotations

import os

import httpx

DEFAULT_MAX_RESPONSE = 64 * 1024 * 1024


class TooBig(Exception):
    """An answer over the limit; it was closed unread past it."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def max_answer_bytes() -> int:
    """``FLOWYARD_MAX_RESPONSE`` in bytes (a whole number of at least 1), or the default
    when unset or blank. Anything else is a ValueError (checked when a command starts:
    ui/config.py), not the default unsaid: `10MB` read as 64 MiB."""
    raw = os.environ.get("FLOWYARD_MAX_RESPONSE", "").strip()
    if not raw:
        return DEFAULT_MAX_RESPONSE
    digits = raw.replace("_", "")
    if not (digits.isascii() and digits.isdigit() and int(digits) >= 1):
        raise ValueError(
            f"FLOWYARD_MAX_RESPONSE={raw!r} is not a number of bytes of at least 1"
            f" (unset, it is {DEFAULT_MAX_RESPONSE}: 64 MiB)"
        )
    return int(digits)


async def read_answer(response: httpx.Response, limit: int) -> None:
    """Read a streamed ``response``'s body into it (``.content``, ``.text`` then work
    as for one read whole), or close it and raise `TooBig` once it passes ``limit``
    bytes as decoded (gzip and the like undone). Closed on any failure."""
    parts: list[bytes] = []
    size = 0
    try:
        async for part in response.aiter_bytes():
            size += len(part)
            if size > limit:
                raise TooBig(limit)
            parts.append(part)
    except BaseException:
        # As httpx's own `send` does for a body it fails to read: the connection
        # goes back to the pool (or is closed), also on a timeout or cancel.
        await response.aclose()
        raise
    response._content = b"".join(parts)  # what httpx's own `aread` sets
