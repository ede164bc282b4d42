"""The Database block's connection: a failure to connect says which database, never
its password.

asyncpg's own words name nothing (a Unix-socket folder that does not exist is a bare
``FileNotFoundError: [Errno 2] No such file or directory``, an unknown host
``gaierror: [Errno -2] Name or service not known``), and for a malformed URL they
quote a piece of it (``invalid literal for int() with base 10: 'Sup3r'``: the start
of a password holding ``#``). The URL is described by ``engine.database_urls.where``, the one
reader of a PostgreSQL URL that tells host, port and database from the password
however the URL is cut (``flowyard`` says with it which database it cannot use).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from engine.database import server_unreachable
from engine.database_urls import MALFORMED, NOT_A_URL, SOME_URL, is_postgres_url, scrubbed, where
from engine.url_parameters import value_problem


class DatabaseConnectionError(RuntimeError):
    """The block's database could not be reached or used: which one and why."""


def connection_error(exc: Exception, url: str, own: bool) -> DatabaseConnectionError | None:
    """``exc``, raised while connecting to ``url``, as an error naming the database
    (``own``: the runner's, else the block's ``connection``); None for an exception
    that is not about connecting."""
    database = "the runner's database" if own else "the database of `connection`"
    if isinstance(exc, ValueError) and not isinstance(exc, asyncpg.PostgresError):
        # asyncpg could not take the URL apart (its ClientConfigurationError is one).
        reason = (value_problem(url) or MALFORMED) if is_postgres_url(url) else NOT_A_URL
        return DatabaseConnectionError(f"cannot use {database}: {reason}")
    unreachable = server_unreachable(exc)
    if not (unreachable or isinstance(exc, asyncpg.PostgresError)):
        return None
    place = where(url)
    if place == SOME_URL:
        # What reads as its user, host or database may be a piece of the password,
        # and the server's words quote those: say only what failed.
        reason = (
            f"{type(exc).__name__} (the URL cannot be read for certain: # / ? @ in its"
            " user or password must be percent-encoded: %23 %2F %3F %40)"
        )
    else:
        said = scrubbed(" ".join(str(exc).split()), url)
        reason = f"{type(exc).__name__}: {said}" if said else type(exc).__name__
    verb = "reach" if unreachable else "use"
    return DatabaseConnectionError(f"could not {verb} {database} at {place}: {reason}")


async def block_pool(db: Any, url: str | None) -> Any:
    """The pool for the block's ``connection`` (None: the runner's database);
    creating one connects."""
    try:
        return await db.pool_for(url)
    except Exception as exc:
        error = connection_error(exc, url or db.url, own=not url)
        if error is None:
            raise
        raise error from None


@contextlib.asynccontextmanager
async def acquired(pool: Any, url: str, own: bool) -> AsyncIterator[Any]:
    """A connection of ``pool``, as ``pool.acquire()`` gives it, but a failure to
    (re)connect names the database. Errors of the block's statement pass as they are."""
    try:
        conn = await pool.acquire()
    except Exception as exc:
        error = connection_error(exc, url, own)
        if error is None:
            raise
        raise error from None
    try:
        yield conn
    finally:
        await pool.release(conn)
