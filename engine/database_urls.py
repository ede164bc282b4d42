"""A PostgreSQL URL described without its password: where it points (``where``), and
text with its password taken out (``scrubbed``). Used by the start-up checks
(ui/config.py) and the Database block's `connection` errors."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

#: what where() says when it cannot read host, port and database from the URL for certain
SOME_URL = "the URL given"
POSTGRES_SCHEMES = ("postgresql", "postgres")
NOT_A_URL = (
    "it is not a postgresql:// URL (write it postgresql://user:password@host:port/dbname;"
    " a keyword DSN such as `host=… dbname=…` is not accepted)"
)
MALFORMED = (
    "the URL is malformed (characters such as # / ? @ in the user or password"
    " must be percent-encoded: %23 %2F %3F %40)"
)


def is_postgres_url(url: str) -> bool:
    """``postgresql://…`` or ``postgres://…``: the only DSNs asyncpg takes."""
    scheme, sep, rest = url.strip().partition(":")
    return bool(sep) and scheme.lower() in POSTGRES_SCHEMES and rest.startswith("//")


def where(url: str) -> str:
    """``host:port/dbname`` of a PostgreSQL URL, without its user or password; or
    SOME_URL when these cannot be read from it for certain.

    A URL whose password holds a raw ``@ / ? #`` is cut in the wrong place (and
    urllib cuts it elsewhere than asyncpg does), so what reads as its host or
    database may be a piece of the password: such a URL, a keyword DSN or one
    without a scheme (whose "path" was the whole string, password and all) names
    no place at all.
    """
    if not is_postgres_url(url) or "#" in url or url.count("@") > 1:
        return SOME_URL
    try:
        parts = urlsplit(url.strip())
        if "@" in url and "@" not in parts.netloc:  # cut short before its userinfo ended
            return SOME_URL
        query = parse_qs(parts.query, strict_parsing=True) if parts.query else {}
        host = parts.hostname or query.get("host", [""])[0] or "localhost"
        port = parts.port or query.get("port", [""])[0] or 5432
    except ValueError:  # a port that is not a number, a broken [IPv6] address or query
        return SOME_URL
    name = parts.path[1:]
    if "/" in name:  # a database name is one path segment
        return SOME_URL
    host = unquote(host)  # a socket directory written %2Fvar%2Frun%2Fpostgresql
    host = f"[{host}]" if ":" in host else host
    place = f"{host}:{port}/{unquote(name)}" if name else f"{host}:{port}"
    return scrubbed(place, url)  # a database named after the password, say


def url_secrets(url: str) -> set[str]:
    """The password of a URL where() can read, as written and as read (percent- and
    ``+``-decoded), from its userinfo and its ``?password=`` and ``?sslpassword=``."""
    parts = urlsplit(url.strip())
    found = {parts.password or ""}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in ("password", "sslpassword"):
            found.add(value)
    for raw in re.findall(r"(?:^|&)(?:ssl)?password=([^&]*)", parts.query):
        found.add(raw)
    return {s for piece in found for s in (piece, unquote(piece)) if s.strip()}


def scrubbed(text: str, url: str) -> str:
    """``text`` with any password of ``url`` in it replaced by ``***``."""
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
