"""DATABASE_URL's query parameters, read the same way by both of flowyard's drivers.

asyncpg (the run log, Database blocks) and psycopg (procrastinate's queue, through
libpq) each read a URL's query on their own: asyncpg sends a parameter it does not
know to the server as a setting (`?search_path=app` works, `?connect_timeout=10` is
refused by the server as an unknown setting), libpq refuses a parameter it does not
know (`invalid URI query parameter: "search_path"`, at every connection of the
queue's pool, until a PoolTimeout ended the process). So the URL is checked once, at
start, and each driver gets its own form of it: the parameters both read alike pass
as they are; ``search_path`` goes into ``options`` (``-c search_path=…``, which both
send to the server); ``connect_timeout`` stays for libpq and becomes asyncpg's
connect timeout; any other is refused in one line (docs/deploy.md, "DATABASE_URL").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

from engine.database_urls import SOME_URL, where

#: Read alike by asyncpg and libpq.
BOTH = (
    "host", "port", "dbname", "user", "password", "passfile", "sslmode", "sslrootcert",
    "sslcert", "sslkey", "sslcrl", "sslpassword", "ssl_min_protocol_version",
    "ssl_max_protocol_version", "target_session_attrs", "krbsrvname", "gsslib",
    "application_name", "options",
)  # fmt: skip
#: Translated for one of them (above).
TRANSLATED = ("search_path", "connect_timeout")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SESSION_ATTRS = ("any", "primary", "standby", "prefer-standby", "read-write", "read-only")
_SECRET_PARAMETERS = ("password", "sslpassword")


class UnsupportedUrl(ValueError):
    """A DATABASE_URL flowyard cannot pass on to both drivers alike; the message is
    the reason, in one line, with no piece of a password."""


@dataclass(frozen=True, slots=True)
class DriverUrls:
    asyncpg: str  # for asyncpg.connect and create_pool
    libpq: str  # for psycopg (procrastinate's PsycopgConnector)
    connect_timeout: float | None  # seconds, for asyncpg's ``timeout``; None: its default


def for_drivers(url: str) -> DriverUrls:
    """Each driver's form of ``url``; :class:`UnsupportedUrl` for a query parameter
    or value only one of them would take. A URL that cannot be taken apart is passed
    on as it is: the start-up check says what is wrong with it (ui/config.py)."""
    try:
        parts = urlsplit(url.strip())
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        return DriverUrls(url, url, None)
    if "#" in url or url.count("@") > 1 or ("@" in url and "@" not in parts.netloc):
        # A password holding a raw # / ? @ cut it elsewhere than meant: what reads as
        # its port or query may be a piece of the password. Refused as malformed.
        return DriverUrls(url, url, None)
    # Names and values are said only when no piece of a password can be among them:
    # none in the query, and a URL cut where meant (engine/database_urls.py, where).
    secret = where(url) == SOME_URL or any(name in _SECRET_PARAMETERS for name, _ in pairs)
    _check_ports(parts.netloc.rpartition("@")[2], pairs)
    common: list[tuple[str, str]] = []
    options: list[str] = []
    timeout: str | None = None
    for name, value in pairs:
        if name not in BOTH and name not in TRANSLATED:
            shown = "one of its query parameters" if secret else f"the query parameter {name!r}"
            raise UnsupportedUrl(
                f"{shown} is not one flowyard passes on to both of its drivers (asyncpg,"
                f" psycopg): use {', '.join(BOTH + TRANSLATED)}; a server setting goes in"
                " options=-c%20name%3Dvalue (docs/deploy.md, 'DATABASE_URL')"
            )
        _check_value(name, value, secret)
        if name == "search_path":
            options.append("-c search_path=" + re.sub(r"([\s\\])", r"\\\1", value))
        elif name == "connect_timeout":
            timeout = value
        else:
            common.append((name, value))
    if options:  # after any options given, as one value
        given = [v for n, v in common if n == "options"]
        common = [(n, v) for n, v in common if n != "options"]
        common.append(("options", " ".join([*given, *options])))
    libpq = common + ([("connect_timeout", timeout)] if timeout is not None else [])
    return DriverUrls(
        _with_query(parts, common),
        _with_query(parts, libpq),
        # libpq waits at least 2 s (0: forever, asyncpg's default then)
        max(2.0, float(timeout)) if timeout and int(timeout) > 0 else None,
    )


def _with_query(parts: SplitResult, pairs: list[tuple[str, str]]) -> str:
    # %20 for a space, never "+": libpq reads "+" as itself (asyncpg as a space).
    return urlunsplit(parts._replace(query=urlencode(pairs, quote_via=quote)))


def _check_value(name: str, value: str, secret: bool) -> None:
    shown = "" if secret else f" {value!r}"
    if name == "sslmode" and value not in SSLMODES:
        raise UnsupportedUrl(f"sslmode{shown} is not one of {', '.join(SSLMODES)}")
    if name == "target_session_attrs" and value not in SESSION_ATTRS:
        raise UnsupportedUrl(
            f"target_session_attrs{shown} is not one of {', '.join(SESSION_ATTRS)}"
        )
    if name == "connect_timeout" and not value.isdigit():
        raise UnsupportedUrl(f"connect_timeout{shown} is not a whole number of seconds")


def _check_ports(hosts: str, pairs: list[tuple[str, str]]) -> None:
    """Each port, in the URL's host list (``h1:5432,h2``) or its ``port`` parameter,
    is a number from 1 to 65535 (asyncpg overflowed on 99999, libpq refused it)."""
    ports = [v for n, v in pairs if n == "port"]
    for host in hosts.split(","):
        if host.startswith("["):  # [IPv6]:port
            ports.append(host.partition("]")[2].removeprefix(":"))
        elif ":" in host:
            ports.append(host.rpartition(":")[2])
    for written in (p for port in ports for p in port.split(",")):
        if written and not (written.isdigit() and 1 <= int(written) <= 65535):
            # Not shown: a URL cut short reads a piece of its password as the port.
            raise UnsupportedUrl("its port is not a number from 1 to 65535")


def value_problem(url: str) -> str | None:
    """What the start-up check would say of a query value or port of ``url``
    (``sslmode 'bogus' is not one of …``), or None. For a Database block's
    ``connection``, which asyncpg alone reads: told only that asyncpg could not take
    the URL apart, the block said the user or password needed percent-encoding."""
    try:
        parts = urlsplit(url.strip())
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return None
    if "#" in url or url.count("@") > 1 or ("@" in url and "@" not in parts.netloc):
        return None  # cut elsewhere than meant: malformed, as for_drivers says
    secret = where(url) == SOME_URL or any(name in _SECRET_PARAMETERS for name, _ in pairs)
    try:
        _check_ports(parts.netloc.rpartition("@")[2], pairs)
        for name, value in pairs:
            _check_value(name, value, secret)
    except UnsupportedUrl as exc:
        return str(exc)
    return None
