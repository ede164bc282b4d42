"""The parts of a secret URL a peer hands back: its request target and its path.

A hook URL read from ``<env.…>`` (Slack's, Discord's, a customer's) carries its
token in the path. The peer it is sent to never sees the URL whole: it gets the
request target (``POST /services/T000/B000/XXXX HTTP/1.1``) and may echo it, in an
error (Express answers an unknown route ``Cannot POST /services/T000/B000/XXXX``,
its path only) or in a body. Redaction looked for the whole URL, so the token was
stored in clear in the block's error and output.

So a secret that is an absolute ``http(s)://`` URL is also redacted as its request
target (path and query) and as its path alone, each as written, as sent (httpx
percent-encodes it, then aiohttp's yarl quotes it again its own way) and decoded
(as a server framework hands a path to its code). A part shorter than
:data:`MIN_URL_PART_CHARS` is not specific to the secret (``/``, ``/v1``, ``/api``)
and is left alone: it would turn every ``/v1`` of a run's records into ``***``.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import httpx
import yarl

#: The shortest request target or path of a secret URL redacted on its own:
#: ``/hooks/x`` is, ``/events`` and ``/api/v1`` are not.
MIN_URL_PART_CHARS = 8


def request_parts(secret: str) -> set[str]:
    """The request target and the path of ``secret`` as a peer may echo them, when
    ``secret`` is an absolute http(s) URL; each of :data:`MIN_URL_PART_CHARS` or
    more. Empty for any other secret."""
    if not secret.lower().startswith(("http://", "https://")):
        return set()
    try:
        written = urlsplit(secret)
    except ValueError:  # "Invalid IPv6 URL": no request goes to it, so no part is echoed
        return set()
    targets = {written.path + (f"?{written.query}" if written.query else "")}
    try:
        sent = httpx.URL(secret)  # what the HTTP and Slack blocks send
        as_text = str(sent)
        targets |= {
            sent.raw_path.decode("ascii"),
            yarl.URL(as_text).raw_path_qs,  # requoted by aiohttp
        }
    except (ValueError, httpx.InvalidURL):  # a value no request can be sent to
        pass
    targets |= {unquote(t) for t in targets}
    parts = targets | {t.partition("?")[0] for t in targets}
    return {p for p in parts if len(p) >= MIN_URL_PART_CHARS}
