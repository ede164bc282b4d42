"""Token authentication, login sessions and CSRF protection.

Everything but ``/webhooks/*``, ``/api/health``, ``/login`` and static files needs
``Authorization: Bearer <token>`` or a session cookie set by logging in with the
token. Cookie-authenticated requests that change state also need the session's
CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``); bearer
requests do not, since a browser never attaches that header on its own.

Sessions are signed cookies, so logging out cannot delete them on the server:
each login gets a random session id, and logout remembers that id as ended
(in this process, until the cookie would have expired anyway).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from ui.wrong_tokens import WrongTokens

bp = Blueprint("auth", __name__)

PUBLIC_PREFIXES = ("/webhooks/", "/static/")
# "/webhooks" itself: a sender without a path is told so (404), not sent to the login page.
PUBLIC_PATHS = frozenset({"/api/health", "/login", "/webhooks"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class EndedSessions:
    """Ids of sessions logged out before their cookie expired, so a copy of the
    cookie (another tab, a stolen one) stops working at logout too."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def end(self, sid: str, lifetime: float) -> None:
        now = time.monotonic()
        with self._lock:
            # Past its lifetime the signed cookie is refused anyway: forget it.
            self._until = {k: t for k, t in self._until.items() if t > now}
            self._until[sid] = now + lifetime

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            return sid in self._until


def _ended() -> EndedSessions:
    return current_app.extensions["flowyard_ended_sessions"]


def _fingerprint(token: str) -> str:
    # The session stores a keyed hash of the token, never the token itself, and a
    # new token (restart with another FLOWYARD_TOKEN) invalidates old sessions.
    key = current_app.secret_key
    key_bytes = key.encode() if isinstance(key, str) else bytes(key or b"")
    return hmac.new(key_bytes, token.encode(), hashlib.sha256).hexdigest()


def csrf_token() -> str:
    tok = session.get("csrf")
    if not tok:
        tok = secrets.token_urlsafe(32)
        session["csrf"] = tok
    return tok


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return header[7:].strip()


def _token_ok(given: str) -> bool:
    """Compare a token someone sent; a wrong one counts against their address."""
    if hmac.compare_digest(given.encode(), current_app.config["FLOWYARD_TOKEN"].encode()):
        return True
    _wrong_tokens().record(str(request.remote_addr))
    return False


def _wrong_tokens() -> WrongTokens:
    return current_app.extensions["flowyard_wrong_tokens"]


def _too_many_wrong_tokens() -> Response | None:
    """``429`` while this address is past its limit of wrong tokens (ui/wrong_tokens.py)."""
    wait = _wrong_tokens().retry_after(str(request.remote_addr))
    if not wait:
        return None
    message = f"too many wrong tokens from this address: try again in {wait} s"
    if request.path == "/login":
        nxt = _safe_next(request.form.get("next"))
        body = render_template("login.html", next=nxt, error=message)
        resp = Response(body, status=429, mimetype="text/html")
    else:
        resp = jsonify(error="too_many_requests", message=message)
        resp.status_code = 429
    resp.headers["Retry-After"] = str(wait)
    return resp


def _session_ok() -> bool:
    fp = session.get("auth")
    sid = session.get("sid")
    if not fp or not sid or sid in _ended():
        return False
    return hmac.compare_digest(
        str(fp).encode(), _fingerprint(current_app.config["FLOWYARD_TOKEN"]).encode()
    )


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.headers.get("X-CSRF-Token")
    if not given:
        # Cached first: parsing the form consumes the body, and the route (a run's
        # input, a re-run's or replay's options) then read none — `{}`, the defaults.
        request.get_data()
        given = request.form.get("csrf_token", "")
    # Bytes: compare_digest raises TypeError on str with non-ASCII characters,
    # which made a crafted token a 500 instead of a 403.
    return bool(expected) and hmac.compare_digest(str(given).encode(), str(expected).encode())


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def check_request() -> Response | tuple[Any, int] | None:
    """``before_request`` hook: None lets the request through."""
    if is_public(request.path):
        if request.path == "/login" and request.method == "POST":
            if not _csrf_ok():
                return _login_form_expired()
            return _too_many_wrong_tokens()
        return None
    bearer = _bearer_token()
    if bearer is not None:
        refused = _too_many_wrong_tokens()
        if refused is not None:
            return refused
        if _token_ok(bearer):
            return None
    if _session_ok():
        if request.method not in SAFE_METHODS and not _csrf_ok():
            return _forbidden(CSRF_REFUSED, reason="csrf")
        return None
    return _unauthorized()


#: A state-changing request on the session without its CSRF token. A page whose
#: token is stale (the session was renewed in another tab) asks ``GET /api/session``
#: for the current one and sends the request again (static/js/session.js).
CSRF_REFUSED = "CSRF token missing or invalid (the session changed: reload the page)"
LOGIN_FORM_EXPIRED = (
    "This login form expired (you logged in or out in another tab, or the cookies "
    "were cleared): log in again."
)


def _login_form_expired() -> Response:
    """A login form whose CSRF token is not the session's: opened before a login or
    logout in another tab, or before the cookies were cleared. Already logged in:
    on to the page it was for (nothing to do). Otherwise the form again, with a new
    token and a word on why; not logged in either way (login CSRF stays refused)."""
    nxt = _safe_next(request.form.get("next"))
    if _session_ok():
        return redirect(nxt)
    body = render_template("login.html", next=nxt, error=LOGIN_FORM_EXPIRED)
    return Response(body, status=403, mimetype="text/html")


def _wants_html() -> bool:
    # A scraper of /metrics sends `*/*` among its types: it got the login page.
    if request.path.startswith("/api/") or request.path == "/metrics":
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "text/html"


def _unauthorized() -> Response | tuple[Any, int]:
    if _wants_html():
        # A page answers 401 with the login form itself (next= brings the user back),
        # so "no token → 401" holds for pages as well as for the API.
        body = render_template("login.html", next=_safe_next(request.full_path), error=None)
        resp = Response(body, status=401, mimetype="text/html")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="flowyard"'
        return resp
    resp = jsonify(error="unauthorized", message=_unauthorized_reason())
    resp.status_code = 401
    resp.headers["WWW-Authenticate"] = 'Bearer realm="flowyard"'
    return resp


def _unauthorized_reason() -> str:
    """Say which of "no token", "not a bearer header" and "wrong token" it was,
    so a client with a stale token is not told to send one it already sends."""
    header = request.headers.get("Authorization", "")
    if not header:
        return "send Authorization: Bearer <token> or log in"
    if not header.lower().startswith("bearer "):
        return "the Authorization header must be 'Bearer <token>'"
    return "the bearer token is not valid (see FLOWYARD_TOKEN)"


def _forbidden(message: str, **extra: str) -> tuple[Any, int]:
    if _wants_html():
        return render_template("error.html", status=403, message=message), 403
    return jsonify(error="forbidden", message=message, **extra), 403


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths, so login cannot be used as an open redirect."""
    if not target:
        return "/"
    target = target.rstrip("?")
    parts = urlsplit(target)
    # Browsers read "/\\host" as "//host": refuse backslashes and control characters too.
    if "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if target.startswith("/login"):
        return "/"
    return target


@bp.get("/login")
def login_form() -> Any:
    if _prefers_json():
        # A page logging in again in place (static/js/session.js) needs the form's token.
        return jsonify(csrf_token=csrf_token())
    return render_template("login.html", next=_safe_next(request.args.get("next")), error=None)


def _prefers_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    )


@bp.get("/api/session")
def current_session() -> Response:
    """The session's CSRF token, for a page whose ``<meta>`` copy is stale (a login
    in another tab renewed the session). Needs the session itself, so it tells no
    one else anything; a bearer client has no session and no token."""
    resp = jsonify(csrf_token=csrf_token() if _session_ok() else None)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.post("/login")
def login() -> Any:
    token = request.form.get("token", "")
    nxt = _safe_next(request.form.get("next"))
    if not _token_ok(token):
        return render_template("login.html", next=nxt, error="That token is not valid."), 401
    # A fresh session on login (session fixation), with a new CSRF token.
    session.clear()
    session["auth"] = _fingerprint(current_app.config["FLOWYARD_TOKEN"])
    session["sid"] = secrets.token_urlsafe(16)
    session.permanent = True
    csrf_token()
    return redirect(nxt)


@bp.post("/logout")
def logout() -> Any:
    sid = session.get("sid")
    if sid:
        lifetime = current_app.permanent_session_lifetime.total_seconds()
        _ended().end(str(sid), lifetime)
    session.clear()
    return redirect(url_for("auth.login_form"))


class SessionOverHttps(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` when the browser reached the site over https
    — directly, or through a proxy that terminates TLS and says so in
    ``X-Forwarded-Proto`` or ``Forwarded`` (the hop nearest the browser, the first).
    Without the flag the browser also sent the session over plain http to the same
    host. A client that claims https over http only gets a cookie its own browser
    will not keep; served over http, the cookie stays without it (a browser drops a
    Secure cookie set over http, and a login to http://10.0.0.5:8080 never held)."""

    def get_cookie_secure(self, app: Any) -> bool:
        return request.is_secure or _forwarded_proto() == "https"


def _forwarded_proto() -> str:
    first = request.headers.get("X-Forwarded-Proto", "").split(",")[0]
    if first.strip():
        return first.strip().lower()
    hop = request.headers.get("Forwarded", "").split(",")[0]
    for pair in hop.split(";"):
        name, _, value = pair.strip().partition("=")
        if name.lower() == "proto":
            return value.strip('"').lower()
    return ""
