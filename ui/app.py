"""The Flask application factory: blueprints, auth hook, security headers, limits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ui.bridge import EngineBridge, EngineTimeout
from ui.config import DEFAULT_ACCEPT_TIMEOUT_S, DEFAULT_MAX_BODY, accept_timeout, max_body
from ui.db_watch import DatabaseWatch
from ui.wrong_tokens import WrongTokens

#: seconds a client is told to wait while the database is unreachable (as webhooks say)
RETRY_AFTER_S = 5
log = logging.getLogger("flowyard.ui")

# X6's Selection, Snapline and Transform plugins insert their CSS as a <style>
# element even with autoInsertCSS off. The same rules are in vendor/x6.css; allowing
# exactly these texts by hash keeps the browser from refusing (and reporting) them.
# (tests/ui/test_ui_pages_security.py recomputes them from vendor/x6.min.js.)
X6_PLUGIN_STYLE_HASHES = (
    "'sha256-VkxowOVAlzxuSf/1AbtEFLdncjkOHvgEaOPGs9/N+2w='",  # selection
    "'sha256-clajVm1iTbc9FbK8pB6sgIupxwaBzILP64MpCEhlXLs='",  # snapline
    "'sha256-UpK7mJ44Q3ty5CDqAqdm4hv8wDq8nlXUtKSAlwbeNAs='",  # transform
)
# Only our own origin: no inline script, no inline style but those three, data:
# images for X6's grid background, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; "
    f"style-src 'self' {' '.join(X6_PLUGIN_STYLE_HASHES)}; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@dataclass(slots=True)
class UIConfig:
    bridge: EngineBridge
    token: str
    secret_key: str
    workflows_dir: Path
    max_body: int = DEFAULT_MAX_BODY
    #: how long a webhook delivery waits for its run to be stored (FLOWYARD_ACCEPT_TIMEOUT)
    accept_timeout: float = DEFAULT_ACCEPT_TIMEOUT_S
    #: poll interval of the SSE stream over the run event log
    stream_poll: float = 0.1
    #: how long reading one run may take (GET /api/runs/<id>): a 504 after that
    read_timeout: float = 30.0


def bridge() -> EngineBridge:
    return current_app.extensions["flowyard"].bridge


def settings() -> UIConfig:
    return current_app.extensions["flowyard"]


def db_watch() -> DatabaseWatch:
    """Whether the database answers this server (ui/db_watch.py)."""
    return current_app.extensions["flowyard_db_watch"]


def create_app(
    bridge_or_config: EngineBridge | UIConfig,
    token: str | None = None,
    secret_key: str | None = None,
    workflows_dir: Path | None = None,
) -> Flask:
    if isinstance(bridge_or_config, UIConfig):
        cfg = bridge_or_config
    else:
        if not token or not secret_key or workflows_dir is None:
            raise ValueError("create_app needs token, secret_key and workflows_dir")
        cfg = UIConfig(
            bridge_or_config, token, secret_key, Path(workflows_dir), max_body(), accept_timeout()
        )
    if not cfg.token:
        raise ValueError("an empty token would let anyone in")
    if not cfg.secret_key:
        # Flask has no session without a key: every login would be a 500.
        raise ValueError("an empty secret key leaves no way to sign sessions")

    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.secret_key = cfg.secret_key
    app.config.update(
        FLOWYARD_TOKEN=cfg.token,
        MAX_CONTENT_LENGTH=cfg.max_body,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="flowyard_session",
        PERMANENT_SESSION_LIFETIME=timedelta(days=7),
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["flowyard"] = cfg
    app.extensions["flowyard_db_watch"] = DatabaseWatch(cfg.bridge)

    from ui import api, auth, metrics, pages, webhooks

    app.extensions["flowyard_ended_sessions"] = auth.EndedSessions()
    app.extensions["flowyard_wrong_tokens"] = WrongTokens()
    app.session_interface = auth.SessionOverHttps()
    app.register_blueprint(auth.bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(metrics.bp)

    app.before_request(_limit_body)
    app.before_request(auth.check_request)
    app.after_request(_security_headers)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _database_outage)
    app.jinja_env.globals["csrf_token"] = auth.csrf_token
    app.wsgi_app = webhooks.merging_slashes(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _limit_body() -> Any:
    # Refuse before reading: Content-Length says it all. Chunked bodies without a
    # length are cut off by MAX_CONTENT_LENGTH when read (also a 413).
    length = request.content_length
    if length is not None and length > settings().max_body:
        return _too_large()
    return None


def _too_large() -> tuple[Any, int]:
    return jsonify(error="payload too large", max_bytes=settings().max_body), 413


def _security_headers(resp: Response) -> Response:
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith("/api/") and "Cache-Control" not in resp.headers:
        resp.headers["Cache-Control"] = "no-store"
    return resp


def _database_outage(exc: Exception) -> Any:
    """A request that failed because PostgreSQL cannot be reached (stopped, the
    network down, no free connection slot): 503 with Retry-After, as a webhook
    delivery and /api/health answer then, so a client retries instead of reading a
    500 as a bug. One handler for every route; any other exception is re-raised to
    Flask's own handling (logged with its traceback, a 500). A wait for the engine that
    ran out is a 503 only when the database does not answer either: otherwise a 504
    saying what took too long (ui/slow_answers.py)."""
    from engine.database import file_error, server_unreachable

    if file_error(exc):
        return _folder_unwritable(exc)
    if isinstance(exc, EngineTimeout):  # slow work, or a database that hangs?
        from ui.slow_answers import too_slow

        slow = too_slow(exc)
        if slow is not None:
            log.warning("%s %s: %s (the database answers)", request.method, request.path, exc)
            return slow
    if not server_unreachable(exc):
        raise exc
    # Logged without a traceback: an outage is not a bug, and one line per request is enough.
    log.warning("%s %s: database unavailable: %r", request.method, request.path, exc)
    headers = {"Retry-After": str(RETRY_AFTER_S)}
    # A webhook sender reads JSON, never a page (`/webhooks` itself too).
    if request.path.startswith(("/api/", "/webhooks/")) or request.path == "/webhooks":
        reason = "the database cannot be reached; retry later"
        body = jsonify(error="database unavailable", reason=reason, retry_after=RETRY_AFTER_S)
        return body, 503, headers
    if request.path == "/metrics":  # a Prometheus scraper reads text, not a page
        text = "# the database cannot be reached; retry later\n"
        return Response(text, 503, headers, mimetype="text/plain; version=0.0.4")
    message = "The database cannot be reached; try again in a moment."
    return render_template("error.html", status=503, message=message), 503, headers


def _folder_unwritable(exc: BaseException) -> Any:
    """A save, delete or template copy the file system refused (the workflows folder
    read-only or full): a 500 that says so, naming the file by its name in the
    folder, not a 503 that has clients retry what cannot succeed."""
    log.error(
        "%s %s: the workflows folder cannot be written: %s", request.method, request.path, exc
    )
    # A rename's second name is where the file was going (the first, a temporary file).
    name = getattr(exc, "filename2", None) or getattr(exc, "filename", None)
    strerror = getattr(exc, "strerror", None) or type(exc).__name__
    reason = f"{strerror} ({Path(name).name})" if name else strerror
    if request.path.startswith(("/api/", "/webhooks/")) or request.path == "/webhooks":
        return jsonify(error="the workflows folder cannot be written", reason=reason), 500
    message = f"The workflows folder cannot be written: {reason}."
    return render_template("error.html", status=500, message=message), 500


def _http_error(exc: HTTPException) -> Any:
    status = exc.code or 500
    if status == 413:
        return _too_large()
    # The exception's own headers but its HTML Content-Type: a 405's `Allow`, which
    # RFC 9110 requires (a client learns which methods the route has).
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    # `/webhooks` itself too: a sender without a path reads JSON like any other.
    if request.path.startswith(("/api/", "/webhooks/")) or request.path == "/webhooks":
        return jsonify(error=exc.name.lower(), message=exc.description), status, headers
    page = render_template("error.html", status=status, message=exc.description)
    return page, status, headers
