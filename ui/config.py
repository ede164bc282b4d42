"""What the commands read from the environment, checked before anything starts:
a wrong value is one line on stderr and exit 1, not a traceback half-way through."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TypeVar

from engine.database_urls import (
    MALFORMED,
    NOT_A_URL,
    SOME_URL,
    is_postgres_url,
    scrubbed,
    where,
)
from engine.privileges import Needs

DEFAULT_MAX_BODY = 1024 * 1024
#: how long the start-up check waits for PostgreSQL to answer
CONNECT_TIMEOUT_S = 10.0


class SettingError(ValueError):
    """A setting that cannot be used; the message is the one line to print."""


T = TypeVar("T")


def _whole_number(name: str, unit: str, low: int, high: int, default: T) -> int | T:
    """The setting ``name``: a whole number of ``unit`` from ``low`` to ``high``, or
    ``default`` when unset or blank; anything else is refused (a SettingError), never
    replaced by the default unsaid."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise SettingError(f"{name}={raw!r} is not a number of {unit} from {low} to {high}")
    return int(raw)


def max_body() -> int:
    """FLOWYARD_MAX_BODY: the largest request body in bytes (unset or blank: 1 MiB).

    Anything but a positive number of bytes is refused: `1MiB` or `abc` fell back to
    1 MiB unsaid, and 0 or less answered every webhook delivery 413.
    """
    raw = os.environ.get("FLOWYARD_MAX_BODY", "").strip()
    if not raw:
        return DEFAULT_MAX_BODY
    if not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
        raise SettingError(
            f"FLOWYARD_MAX_BODY={raw!r} is not a number of bytes of at least 1"
            f" (unset, it is {DEFAULT_MAX_BODY}: 1 MiB)"
        )
    return int(raw)


def run_retention() -> float:
    """FLOWYARD_RUN_RETENTION in seconds (default 30d). The engine's hourly pruning
    reads it again; a bad value there only killed that task, leaving retention off."""
    from engine.retention import retention_s

    try:
        return retention_s()
    except ValueError as exc:
        raise SettingError(f"FLOWYARD_RUN_RETENTION: {exc}") from None


def secret_key_setting() -> str | None:
    """FLOWYARD_SECRET_KEY, None when unset (a key is then generated per workspace).

    Set but blank is refused (docs/ui-security.md): it is a key someone meant to
    give and lost (an empty variable in a compose file), not a request for a new
    one; taking the stored key instead would sign sessions with a key they never set.
    """
    raw = os.environ.get("FLOWYARD_SECRET_KEY")
    if raw is None:
        return None
    if not raw.strip():
        raise SettingError(
            "FLOWYARD_SECRET_KEY is set but empty: give a key, or unset it to use the"
            " one generated in .flowyard/secret_key"
        )
    return raw.strip()


def server_threads() -> int:
    """FLOWYARD_THREADS: the web server's threads (default 16). A live run-viewer
    stream, a `?wait=1` run or a `respond: sync` delivery holds one for as long as it
    lasts; see ui/long_requests.py."""
    return _whole_number("FLOWYARD_THREADS", "threads", 2, 1024, 16)


def max_active_runs() -> int | None:
    """FLOWYARD_MAX_ACTIVE_RUNS: how many runs one process executes at once (default:
    no limit). The rest wait `queued` and are still accepted at once: the
    runs share the process's event loop with webhook answers and ``/api/health``, so
    past what the CPU can execute each extra run only makes every answer slower
    (engine/inflight.py; docs/deploy.md on sizing it)."""
    return _whole_number("FLOWYARD_MAX_ACTIVE_RUNS", "runs", 1, 100_000, None)


DEFAULT_CONNECTION_LIMIT = 1000
#: Open files a server needs besides its clients' connections: database pools,
#: function workers' pipes, log files, the listening socket.
FILES_RESERVED = 256


def connection_limit() -> int:
    """FLOWYARD_CONNECTION_LIMIT: client connections the web server keeps open at once
    (default 1000; waitress's own is 100). At the limit it accepts no more until one
    closes — every request waits, ``/api/health`` included — so a hundred idle or
    slow clients stopped the whole server."""
    return _whole_number(
        "FLOWYARD_CONNECTION_LIMIT", "connections", 10, 100_000, DEFAULT_CONNECTION_LIMIT
    )


def usable_connection_limit() -> int:
    """``connection_limit()``, with the open-files limit (``ulimit -n``) raised to fit
    it, as far as the hard limit allows: each connection is an open file, and one
    accepted past the limit fails. A default that does not fit is lowered; a value
    set that does not fit is a SettingError."""
    wanted = connection_limit()
    fits = _open_files_for(wanted + FILES_RESERVED) - FILES_RESERVED
    if fits >= wanted:
        return wanted
    if os.environ.get("FLOWYARD_CONNECTION_LIMIT", "").strip():
        raise SettingError(
            f"FLOWYARD_CONNECTION_LIMIT={wanted} needs {wanted + FILES_RESERVED} open files;"
            f" this process may open {fits + FILES_RESERVED} (raise `ulimit -Hn`, or set less)"
        )
    return max(fits, 10)


def _open_files_for(wanted: int) -> int:
    """Raise this process's soft open-files limit to ``wanted`` (up to the hard
    limit); returns the limit now in force."""
    try:
        import resource
    except ImportError:  # not a POSIX system: nothing to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return wanted
    raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    except (ValueError, OSError):
        return soft
    return raised


DEFAULT_CHANNEL_TIMEOUT_S = 30


def channel_timeout() -> int:
    """FLOWYARD_CHANNEL_TIMEOUT: seconds a client connection may sit idle — no request
    being answered, nothing received — before the server closes it (default 30;
    waitress's own is 120). A request being answered (a sync webhook's wait, a live
    run stream) is never cut by it."""
    return _whole_number("FLOWYARD_CHANNEL_TIMEOUT", "seconds", 1, 3600, DEFAULT_CHANNEL_TIMEOUT_S)


DEFAULT_ACCEPT_TIMEOUT_S = 10.0


def accept_timeout() -> float:
    """FLOWYARD_ACCEPT_TIMEOUT: seconds a webhook delivery waits for the database to
    store its run before it is answered 503 (default 10). A database that hangs
    (paused, a lock held, a network that drops packets rather than refusing them)
    otherwise held the sender, and a server thread, for as long as it hung."""
    raw = os.environ.get("FLOWYARD_ACCEPT_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_ACCEPT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 0.1 <= seconds <= 300:
        raise SettingError(
            f"FLOWYARD_ACCEPT_TIMEOUT={raw!r} is not a number of seconds from 0.1 to 300"
        )
    return seconds


DEFAULT_SHUTDOWN_GRACE_S = 10.0


def shutdown_grace() -> float:
    """FLOWYARD_SHUTDOWN_GRACE: seconds a stopping process (SIGTERM, Ctrl-C) lets its
    runs in flight end before it interrupts them (default 10; 0: at once). A run let
    end is recorded done; one interrupted is resumed by the next start, repeating the
    block it was in — an INSERT outside a transaction group, a request sent."""
    raw = os.environ.get("FLOWYARD_SHUTDOWN_GRACE", "").strip()
    if not raw:
        return DEFAULT_SHUTDOWN_GRACE_S
    try:
        grace = float(raw)
    except ValueError:
        grace = -1.0
    if not 0 <= grace <= 3600:
        raise SettingError(
            f"FLOWYARD_SHUTDOWN_GRACE={raw!r} is not a number of seconds from 0 to 3600"
        )
    return grace


def worker_timings() -> dict[str, float]:
    """FLOWYARD_WORKER_HEARTBEAT, _STALLED_AFTER, _POLL and _CONNECTION_WAIT
    (docs/deploy.md), which every process with a run queue reads: a bad one was a
    traceback after `serve` had written its token and templates, or an in-process
    worker that never started."""
    from engine.queue import worker_settings

    try:
        return worker_settings()
    except ValueError as exc:
        raise SettingError(str(exc)) from None


def check_start_settings(command: str) -> None:
    """Every setting ``command`` reads, checked before it starts anything (binds
    a port, writes a token): a wrong one is one line on stderr and exit 1."""
    from blocks._http_answers import max_answer_bytes
    from engine.functions import pool_size

    try:
        run_retention()  # every process that runs an engine prunes
        shutdown_grace()  # and every one stops
        worker_timings()  # both have a run queue (serve --no-worker too: its retry wait)
        try:
            pool_size()  # and starts its Function workers
            max_answer_bytes()  # and runs HTTP and Slack blocks
        except ValueError as exc:
            raise SettingError(str(exc)) from None
        if command == "serve":
            max_active_runs()  # its engine's (a worker's bound is its --concurrency)
            server_threads()
            secret_key_setting()
            max_body()
            usable_connection_limit()
            channel_timeout()
            accept_timeout()
    except SettingError as exc:
        print(f"flowyard {command}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


# -- the database --------------------------------------------------------------------


def _database_probe(url: str, needs: Needs | None = None) -> tuple[str | None, int]:
    """Why flowyard cannot use the database at ``url`` (one line; None when it can),
    and the schema version recorded in it (0 when it could not be read). With
    ``needs``, also whether its user may do what the command is about to
    (engine/privileges.py): a permission met later was a traceback, after ``serve``
    had written a token and the templates.

    One connection of its own, so that whatever fails here is about connecting
    (a refused or unknown host, a password, a database that does not exist, a
    malformed URL) and never mistaken for some other error of the engine. The
    line never holds the URL's password, however malformed the URL (where()).
    """
    import asyncpg

    from engine.database import server_unreachable
    from engine.migrations import recorded_version
    from engine.privileges import probe
    from engine.url_parameters import UnsupportedUrl, for_drivers

    if not is_postgres_url(url):  # asyncpg's own words quote what it read as the scheme
        return f"cannot use the database at {SOME_URL}: {NOT_A_URL}", 0

    try:  # its query read alike by both drivers, or one line saying why not
        urls = for_drivers(url)
    except UnsupportedUrl as exc:
        return f"cannot use the database at {where(url)}: {exc}", 0

    async def connect() -> tuple[str | None, int]:
        timeout = urls.connect_timeout or CONNECT_TIMEOUT_S
        conn = await asyncpg.connect(urls.asyncpg, timeout=timeout)
        try:
            if needs is None:
                return None, await recorded_version(conn)
            return await probe(conn, needs)
        finally:
            await conn.close()

    try:
        problem, version = asyncio.run(connect())
    except Exception as exc:
        place = where(url)
        if isinstance(exc, ValueError):  # asyncpg's ClientConfigurationError is one
            # asyncpg could not take the URL apart, and says so quoting a piece of
            # it: a password holding `#`, `/` or `?` was printed in part.
            reason = MALFORMED
        elif place == SOME_URL:
            # Its user, host and database names as read may hold pieces of the
            # password, and the server's words quote them: say only what failed.
            reason = (
                f"{type(exc).__name__} (the URL cannot be read for certain: # / ? @ in its"
                " user or password must be percent-encoded: %23 %2F %3F %40)"
            )
        else:
            reason = scrubbed(" ".join(str(exc).split()), url) or type(exc).__name__
        verb = "reach" if server_unreachable(exc) else "use"
        return f"cannot {verb} the database at {place}: {reason}", 0
    if problem is not None:
        return f"cannot use the database at {where(url)}: {problem}", version
    return None, version


def require_database(command: str, workspace: Path, needs: Needs | None = None) -> str:
    """The database URL (DATABASE_URL, or the workspace's embedded server, started),
    once it answers, a newer flowyard has not migrated it, and its user may do what
    the command needs (``needs``; by default flowyard's own tables); otherwise one
    line on stderr and exit 1, before the command has written anything (no token, no
    templates, no run). A newer schema is refused here although the runtime's start
    refuses it too (engine.migrations.NewerSchema): ``serve`` would have installed the
    templates by then, and ``new`` copied one."""
    from engine.database import resolve_url
    from engine.embedded_paths import EmbeddedPathError
    from engine.migrations import SCHEMA_VERSION, newer_schema_message

    try:
        url = resolve_url(workspace)
    except EmbeddedPathError as exc:
        print(f"flowyard {command}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    problem, version = _database_probe(url, needs or Needs(command))
    if problem is not None:
        source = " (DATABASE_URL)" if os.environ.get("DATABASE_URL") else ""
        print(f"flowyard {command}: {problem}{source}", file=sys.stderr, flush=True)
        raise SystemExit(1)
    if version > SCHEMA_VERSION:
        print(f"flowyard {command}: {newer_schema_message(version)}", file=sys.stderr, flush=True)
        raise SystemExit(1)
    return url
