"""``flowyard serve``: the engine on a background asyncio loop + Flask under waitress."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import secrets
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.privileges import Needs
from templates import template_tables
from ui._serve_stop import stop_serving
from ui.app import UIConfig, create_app
from ui.bridge import EngineBridge
from ui.config import (
    accept_timeout,
    channel_timeout,
    check_start_settings,
    max_active_runs,
    max_body,
    require_database,
    secret_key_setting,
    server_threads,
    shutdown_grace,
    usable_connection_limit,
)

log = logging.getLogger("flowyard.ui")

#: What a new workspace starts with (the README's first command serves them).
FIRST_RUN_TEMPLATES = ("order_processing", "replay_events")

#: Each live SSE stream holds one thread while it lasts; more threads also means more
#: contention for the GIL with the engine loop (FLOWYARD_THREADS to tune).


def _stored_secret(workspace: Path, filename: str, env_var: str) -> tuple[str, bool]:
    """The value of ``env_var``, else one generated once and kept under ``.flowyard/``.

    Returns (value, created_now). The file is 0600 so other local users cannot read it.
    """
    value = os.environ.get(env_var, "").strip()
    if value:
        return value, False
    folder = workspace / ".flowyard"
    path = folder / filename
    if path.is_file():
        stored = path.read_text(encoding="utf-8").strip()
        if stored:
            return stored, False
    folder.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value, True


def resolve_token(workspace: Path) -> tuple[str, bool]:
    return _stored_secret(workspace, "token", "FLOWYARD_TOKEN")


def resolve_secret_key(workspace: Path) -> str:
    """FLOWYARD_SECRET_KEY, else the workspace's generated key; set but blank is a
    SettingError (ui/config.py), never silently the stored key."""
    given = secret_key_setting()
    if given is not None:
        return given
    return _stored_secret(workspace, "secret_key", "FLOWYARD_SECRET_KEY")[0]


def make_runtime(
    workflows_dir: Path, workspace: Path, worker: bool = True, database_url: str | None = None
) -> Any:
    """The server's runtime: with ``worker`` it executes what it accepts (the fast path)
    and works the queue too; without, it only accepts runs into the queue."""
    import blocks  # noqa: F401  (registers every block type)
    from engine.runtime import Runtime

    return Runtime(
        workflows_dir=workflows_dir,
        database_url=database_url or os.environ.get("DATABASE_URL"),
        workspace=workspace,
        queue=True,
        local=worker,
        max_active_runs=max_active_runs(),
    )


@dataclass(slots=True)
class Background:
    """What ``serve`` runs beside its requests, on the engine's loop."""

    stop: asyncio.Event  # ends the scheduler and the queue worker
    ordering: asyncio.Task[None] | None  # holds the key-order lock (engine/key_order.py)
    stopping: list[asyncio.Task[None]]  # the scheduler and the queue worker

    async def close(self) -> None:
        """Stop them, and wait for them to end. The key-order task is cancelled and
        awaited (its connection closed, the lock released), as the engine process
        does: left pending, it died with the loop and every stop logged `Task was
        destroyed but it is pending!`. The scheduler and the worker end on ``stop``;
        not awaited, a stop on a busy machine came before they did, and the worker's
        coroutine was destroyed mid-way (`Exception ignored in: <coroutine object
        Runtime.work>` on stderr)."""
        self.stop.set()
        if self.ordering is not None:
            self.ordering.cancel()
        await asyncio.gather(*self.stopping, *filter(None, [self.ordering]), return_exceptions=True)


def start_background(bridge: EngineBridge, worker: bool, concurrency: int) -> Background:
    """Schedules (every process; a tick's idempotency key makes it run once) and, with
    ``worker``, an in-process queue worker; ``close()`` stops them."""
    from blocks.schedule import run_scheduler
    from engine.key_order import hold_key_order
    from engine.runtime import HEARTBEAT_S

    async def launch() -> Background:
        stop = asyncio.Event()
        rt = bridge.runtime
        stopping = [asyncio.create_task(run_scheduler(rt, stop))]
        if worker:
            stopping.append(asyncio.create_task(rt.work(concurrency, stop)))
        ordering = None
        if not rt.handoff:  # with --engine-process, the engine process orders keys
            what = "flowyard serve" if worker else "flowyard serve --no-worker"
            ordering = asyncio.create_task(hold_key_order(rt, what, worker, HEARTBEAT_S))
        return Background(stop, ordering, stopping)

    return bridge.call(launch())


def build(
    workflows_dir: Path,
    workspace: Path,
    runtime: Any | None = None,
    worker: bool = True,
    database_url: str | None = None,
) -> tuple[Any, EngineBridge, str]:
    """Start the engine on its loop and make the WSGI app; returns (app, bridge, token)."""
    workflows_dir = Path(workflows_dir).resolve()
    workspace = Path(workspace).resolve()
    token, created = resolve_token(workspace)
    if created:
        # Printed once, on the terminal only (never logged): the one time it is shown.
        print(
            f"flowyard: generated an access token (stored in {workspace / '.flowyard' / 'token'}):\n  {token}",
            file=sys.stderr,
            flush=True,
        )
    runtime = runtime or make_runtime(workflows_dir, workspace, worker, database_url)
    bridge = EngineBridge(runtime).start()
    cfg = UIConfig(
        bridge, token, resolve_secret_key(workspace), workflows_dir, max_body(), accept_timeout()
    )
    return create_app(cfg), bridge, token


#: Bytes past FLOWYARD_MAX_BODY waitress still reads before it refuses a body itself:
#: the app refuses those (its JSON 413), and a chunked body's framing (a size line
#: per chunk) is not counted against a body within the limit.
BODY_SLACK = 64 * 1024


def make_server(app: Any, host: str, port: int) -> Any:
    """The waitress server ``serve`` runs ``app`` on (listening once this returns)."""
    from waitress import create_server

    idle = channel_timeout()
    return create_server(
        app,
        host=host,
        port=port,
        threads=server_threads(),
        # Waitress reads a whole body (spooled to a temporary file, up to 1 GiB by
        # default) before the app sees its headers: a body far over the limit is
        # refused by waitress as its Content-Length arrives, or as a chunked one
        # passes it (413, plain text, connection closed), never read to the end.
        max_request_body_size=max_body() + BODY_SLACK,
        # Idle and slow clients each hold a connection: at waitress's 100 they shut
        # everyone out (health checks too) for its 120 s channel timeout. poll(),
        # not select(), which fails on a file descriptor past 1023.
        connection_limit=usable_connection_limit(),
        channel_timeout=idle,
        cleanup_interval=max(1, min(30, idle // 2)),  # how often idle ones are found
        asyncore_use_poll=True,
        ident="flowyard",
        # Waitress 3 deletes X-Forwarded-*/Forwarded from every request that does not
        # come from a trusted proxy; a webhook's run is meant to see them (SPEC:
        # `headers.x_forwarded_for`). They pass through as data only: no proxy is
        # trusted, so REMOTE_ADDR and the URL scheme are never taken from them.
        clear_untrusted_proxy_headers=False,
    )


class _LateApp:
    """The WSGI app of a server that listens before the engine is up: ``serve`` binds
    its port first and sets ``app`` before it accepts the first request."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


def listen(app: Any, host: str, port: int) -> Any:
    """``make_server``, or one line on stderr and exit 1 when the address cannot be
    had (a port in use is an operator's mistake, not a traceback)."""
    try:
        return make_server(app, host, port)
    except ValueError as exc:  # waitress: an address it cannot resolve or use
        print(f"flowyard serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = f"port {port} on {host} is already in use"
        else:
            reason = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
        print(f"flowyard serve: {reason}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def serve(
    host: str,
    port: int,
    workflows_dir: Path,
    workspace: Path,
    worker: bool = True,
    concurrency: int = 32,
    log_format: str = "text",
    engine_process: bool = False,
) -> None:
    from ui.logs import configure_logging, say_stopped, say_stopping, stop_log

    configure_logging(log_format)
    check_start_settings("serve")  # before the port, the database, the token
    # Bound before anything starts: a port in use then leaves no engine, database
    # pool, engine process, new token or installed templates behind. The database
    # is checked next, for the same reason: templates installed without their
    # tables would never get them (a later serve sees `workflows/` and installs nothing).
    late = _LateApp()
    server = listen(late, host, port)
    try:
        # The queue's tables, and on a first start the templates': a user that may
        # not create them is told now, before the token and templates are written.
        tables = () if workflows_dir.exists() else template_tables()
        url = require_database("serve", workspace, Needs("serve", queue=True, tables=tables))
        worker = worker and not engine_process  # this process only accepts, then
        installed = _install_templates_if_new(workflows_dir)
        late.app, bridge, _ = build(workflows_dir, workspace, worker=worker, database_url=url)
    except BaseException:
        server.close()
        raise
    if installed:
        import templates

        bridge.call(templates.apply_schemas_where_allowed(bridge.runtime.db.pool), timeout=60)
        _say(
            f"a new workspace: {', '.join(installed)} installed in {workflows_dir}"
            " (POST /webhooks/orders/events starts Order Processing)",
            log_format,
        )
    engine = None
    if engine_process:
        engine = _start_engine_process(bridge, workflows_dir, workspace, log_format)
    background = start_background(bridge, worker, concurrency)
    mode = "accepting and running" if worker else "accepting only (--no-worker)"
    if engine is not None:
        mode = "accepting; running in the engine process"
    _say(f"serving {workflows_dir} on http://{host}:{port}/ ({mode})", log_format)

    def stopping(_signum: int, _frame: Any) -> None:
        # Requests waiting for a run (`?wait=1`) are answered first: waitress then
        # waits for its threads, and they end while their connections are open.
        bridge.release_waits()
        raise KeyboardInterrupt

    # SIGTERM stops as Ctrl-C does, the engine process too.
    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        grace = shutdown_grace()  # checked at start
        if engine is None:
            say_stopping(bridge.runtime.runs_in_flight, grace)
        else:  # its runs are the engine process's: it says how many
            stop_log.info("stopping: the engine process gets up to %g s for its runs", grace)
        server.close()
        stop_serving(bridge, background, grace, engine)
        say_stopped()


def _say(message: str, log_format: str) -> None:
    """A start-up line: with ``--log-format json`` a log record like every other line
    (a log collector parses each line as JSON), else plain ``flowyard: …`` on stderr."""
    if log_format == "json":
        log.info(message)
    else:
        print(f"flowyard: {message}", file=sys.stderr, flush=True)


def _install_templates_if_new(workflows_dir: Path) -> list[str]:
    """A workspace without a workflows folder starts with the shipped templates, so
    the first ``flowyard serve`` answers order webhooks. A folder that exists, even
    empty, is left as it is: its owner may have removed them on purpose."""
    import templates

    if workflows_dir.exists():
        return []
    return [templates.instantiate(t, workflows_dir).stem for t in FIRST_RUN_TEMPLATES]


def _start_engine_process(
    bridge: EngineBridge, workflows_dir: Path, workspace: Path, log_format: str
) -> Any:
    """Start ``flowyard engine``; this runtime hands it every run it accepts."""
    from engine.handoff import FinishWatcher
    from ui.engine_process import EngineProcess

    runtime = bridge.runtime
    watcher = FinishWatcher()
    bridge.call(watcher.start(runtime.db))
    runtime.finished, runtime.handoff = watcher, True
    folders = Path(workflows_dir).resolve(), Path(workspace).resolve()
    engine = EngineProcess(*folders, runtime.db.url, log_format)
    engine.start()
    bridge.engine_process = engine
    return engine
