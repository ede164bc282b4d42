"""How much of an answer the HTTP and Slack blocks read: at most
``FLOWYARD_MAX_RESPONSE`` bytes (default 64 MiB), as decoded.

Read whole and unbounded, an answer that never ended (a broken or hostile peer, a
URL that turned out to be a video) or a small gzip body inflating to gigabytes
grew the process by gigabytes a second until the block's timeout, or until the
kernel killed the server and every run in it. A resume then ran the same request
again, and was killed again. The limit matches the most a run record keeps of an
output (engine/_recordable.py): a bigger body could not be recorded anyway.

The body is undone here, a bounded piece at a time (:class:`_Layer`), not by httpx:
httpx inflates each network read whole, through every layer of ``Content-Encoding``
at once, so a body gzipped twice (``gzip, gzip``) of a few kilobytes became a
gigabyte in memory before a byte of it could be counted.
"""

from __future__ import annotations

import base64
import codecs
import os
import zlib
from collections.abc import Iterator

import httpx
from httpx._decoders import SUPPORTED_DECODERS

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


#: The most a layer hands on from one call: what a read may hold beyond the limit.
_PIECE = 64 * 1024
#: Compressed bytes given at once to a decoder that takes no output bound (brotli, zstd).
_SLICE = 1024


class _Layer:
    """One layer of ``Content-Encoding`` undone in pieces of at most ``_PIECE`` bytes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.zlib: zlib._Decompress | None = None  # type: ignore[name-defined]
        self.other: httpx._decoders.ContentDecoder | None = None  # type: ignore[name-defined]
        self.first = True
        if name == "gzip":
            self.zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif name == "deflate":
            self.zlib = zlib.decompressobj()
        else:
            self.other = SUPPORTED_DECODERS[name]()

    def pieces(self, data: bytes) -> Iterator[bytes]:
        if self.other is not None:
            for at in range(0, len(data), _SLICE):
                if out := self.other.decode(data[at : at + _SLICE]):
                    yield out
            return
        while data:
            out = self._inflate(data)
            data = self.zlib.unconsumed_tail
            if out:
                yield out
        while len(out := self._inflate(b"")) > 0:  # what the last call held back
            yield out

    def _inflate(self, data: bytes) -> bytes:
        first, self.first = self.first, False
        try:
            return self.zlib.decompress(data, _PIECE)
        except zlib.error as exc:
            if first and self.name == "deflate":  # raw deflate, as httpx also reads it
                self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(data)
            raise httpx.DecodingError(str(exc)) from exc

    def end(self) -> bytes:
        try:
            if self.other is not None:
                return self.other.flush()
            out = self.zlib.flush()
        except zlib.error as exc:
            raise httpx.DecodingError(str(exc)) from exc
        if not self.first and not self.zlib.eof:
            # A body ending where the connection did (no Content-Length) looks whole to
            # the transport: the stream's own end is the only sign that part is missing.
            # (No data at all is no stream: a HEAD's, a 204's.)
            raise httpx.DecodingError(f"the {self.name} body is cut short, its stream never ends")
        return out


def _layers(response: httpx.Response) -> list[_Layer]:
    """The ``Content-Encoding`` layers to undo, the last applied first (httpx's reading:
    names it does not know are left as they are)."""
    names = [v.strip().lower() for v in response.headers.get_list("content-encoding", True)]
    return [_Layer(n) for n in reversed(names) if n in SUPPORTED_DECODERS and n != "identity"]


def _through(layers: list[_Layer], data: bytes) -> Iterator[bytes]:
    if not layers:
        yield data
        return
    for piece in layers[0].pieces(data):
        yield from _through(layers[1:], piece)


def _ended(layers: list[_Layer]) -> Iterator[bytes]:
    for i, layer in enumerate(layers):
        yield from _through(layers[i + 1 :], layer.end())


async def read_answer(response: httpx.Response, limit: int) -> None:
    """Read a streamed ``response``'s body into it (``.content``, ``.text`` then work
    as for one read whole), or close it and raise `TooBig` once it passes ``limit``
    bytes as decoded (gzip and the like undone, a bounded piece at a time). Closed
    on any failure."""
    parts: list[bytes] = []
    size = 0

    def take(pieces: Iterator[bytes]) -> None:
        nonlocal size
        for piece in pieces:
            size += len(piece)
            if size > limit:
                raise TooBig(limit)
            parts.append(piece)

    try:
        layers = _layers(response)
        async for raw in response.aiter_raw():
            take(_through(layers, raw))
        take(_ended(layers))
    except BaseException:
        # As httpx's own `send` does for a body it fails to read: the connection
        # goes back to the pool (or is closed), also on a timeout or cancel.
        await response.aclose()
        raise
    response._content = b"".join(parts)  # what httpx's own `aread` sets


#: Byte order marks and the encoding each says, as the WHATWG encoding standard sniffs
#: them (every browser): before the Content-Type's charset, which httpx alone reads.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def answer_text(response: httpx.Response) -> str:
    """A read answer's text: decoded as its byte order mark says, when it starts with
    one (the mark itself left out), else as httpx decodes it (the charset, else UTF-8).

    httpx ignores a BOM: a JSON answer from a .NET service starting with a UTF-8 one
    was the text ``\\ufeff{…}``, not the object; a UTF-16 one was replacement
    characters between its letters."""
    content = response.content
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, errors="replace")
    return response.text


#: Subtypes of a media type whose answer is text (besides ``text/*``, ``+json`` and
#: ``+xml``), as n8n's HTTP node and browsers read them.
_TEXT_SUBTYPES = frozenset(
    {"json", "xml", "javascript", "ecmascript", "x-www-form-urlencoded", "graphql",
     "x-ndjson", "yaml", "x-yaml", "csv", "sql", "x-sh", "html"}
)  # fmt: skip


def binary_body(response: httpx.Response) -> str | None:
    """A read answer's bytes as base64 when its ``Content-Type`` names no text (an
    image, a PDF, a zip, ``application/octet-stream``), else None (read it as text).
    Decoded as UTF-8, a PNG was replacement characters its bytes could not be had
    back from. No ``Content-Type``: text, as before."""
    media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    main, _, sub = media.partition("/")
    if not media or main in ("text", "multipart") or sub in _TEXT_SUBTYPES:
        return None
    if sub.endswith(("+json", "+xml")):
        return None
    return base64.b64encode(response.content).decode("ascii")
