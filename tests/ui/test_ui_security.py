"""Security of the web UI over HTTP: auth on every route (from the url_map, so a
future route is covered too), CSRF on cookie sessions, cookie flags, logout,
constant-time comparisons, escaping, workflow names and login redirects."""

from __future__ import annotations

import hmac
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from ui_security_support import PAGE_ENDPOINTS_PREFIX, app_routes, csrf_token

from tests.ui.conftest import SECRET_KEY, TOKEN
from ui.app import UIConfig, create_app

# The only endpoints anyone may call without the token: a new public route must be
# added here on purpose, or test_every_route_is_guarded_and_works_with_the_token fails.
PUBLIC_ENDPOINTS = {"webhooks.deliver", "api.health", "auth.login_form", "auth.login", "static"}


def _login(client: FlaskClient) -> str:
    """Log in with the token; returns the session's CSRF token."""
    resp = client.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf_token(client), "next": "/"}
    )
    assert resp.status_code == 302
    return csrf_token(client, "/")


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("flowyard_session")
    assert cookie is not None
    return cookie.value


# -- auth coverage ---------------------------------------------------------------------


def test_every_route_is_guarded_and_works_with_the_token(
    app: Flask, client: FlaskClient, auth: dict[str, str], order_id: str
) -> None:
    routes = app_routes(app, order_id)
    assert {endpoint for endpoint, _, _ in routes} >= PUBLIC_ENDPOINTS
    checked = 0
    for endpoint, method, url in routes:
        if endpoint in PUBLIC_ENDPOINTS:
            continue
        body = {} if method != "GET" else None
        # Without credentials: the API says 401 in JSON; a page in a browser (HTML
        # accepted) answers 401 with the login form that brings the user back.
        api = client.open(url, method=method, headers={"Accept": "application/json"}, json=body)
        assert api.status_code == 401, (method, url, api.status_code)
        assert api.is_json and api.get_json()["error"] == "unauthorized"
        page = client.open(url, method=method, headers={"Accept": "text/html"}, json=body)
        assert page.status_code == 401, (method, url, page.status_code)
        if endpoint.startswith(PAGE_ENDPOINTS_PREFIX):
            assert 'name="token"' in page.get_data(as_text=True), (method, url)
        # A wrong token is no better than none.
        # (From an address of its own per route: the guesses are more than ui/wrong_tokens.py
        # lets one address make.)
        bad = client.open(
            url,
            method=method,
            headers={"Authorization": "Bearer x"},
            json=body,
            environ_base={"REMOTE_ADDR": f"192.0.2.{checked + 1}"},
        )
        assert bad.status_code == 401, (method, url)
        # With the token the request reaches its handler (404 for the made-up names).
        ok = client.open(url, method=method, headers=auth, json=body, buffered=False)
        try:
            assert ok.status_code not in (401, 403) and ok.status_code < 500, (
                method,
                url,
                ok.status_code,
            )
        finally:
            ok.close()  # the SSE stream of a made-up run
        checked += 1
    assert checked >= 25


def test_public_routes_answer_without_credentials(client: FlaskClient) -> None:
    assert client.get("/api/health").status_code == 200
    assert client.get("/login").status_code == 200
    assert client.get("/static/css/app.css").status_code == 200
    assert client.get("/static/vendor/x6.min.js").status_code == 200
    assert client.post("/webhooks/no/such/hook", json={}).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/static/../api/workflows",
        "/static/%2e%2e/api/workflows",
        "/static/..%2Fapi%2Fworkflows",
        "/webhooks/../api/workflows",
        "/api/health/../workflows",
        "/login/../api/workflows",
    ],
)
def test_a_public_prefix_does_not_open_a_private_route(client: FlaskClient, path: str) -> None:
    resp = client.get(path, headers={"Accept": "application/json"})
    assert resp.status_code in (401, 404, 405), resp.status_code
    assert b"hello" not in resp.data


# -- CSRF, cookies, login and logout -------------------------------------------------------


def test_session_cookie_flags(client: FlaskClient) -> None:
    resp = client.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf_token(client), "next": "/"}
    )
    cookies = resp.headers.getlist("Set-Cookie")
    assert cookies, "login sets the session cookie"
    flags = cookies[0].lower()
    assert flags.startswith("flowyard_session=")
    assert "httponly" in flags
    assert "samesite=lax" in flags or "samesite=strict" in flags
    assert TOKEN not in cookies[0]


@pytest.mark.parametrize(
    "proxy_says",
    [{"X-Forwarded-Proto": "https"}, {"Forwarded": 'for=203.0.113.7;proto="https"'}],
)
def test_the_session_cookie_is_secure_when_the_browser_came_over_https(
    app: Flask, proxy_says: dict[str, str]
) -> None:
    """Behind a proxy that terminates TLS the cookie had no `Secure` flag, so the
    browser also sent the session over plain http to the same host (a first http://
    visit before the proxy's redirect) for anyone on the network to read. Served
    over http directly, it stays without the flag: a browser drops a Secure cookie
    set over http, and logging in to http://10.0.0.5:8080 would never work."""
    over_https = app.test_client()
    over_https.environ_base.update(
        {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in proxy_says.items()}
    )
    resp = over_https.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf_token(over_https), "next": "/"}
    )
    assert resp.status_code == 302
    cookie = resp.headers.getlist("Set-Cookie")[0].lower()
    assert cookie.startswith("flowyard_session=") and "; secure" in cookie, cookie

    plain = app.test_client()
    resp = plain.post("/login", data={"token": TOKEN, "csrf_token": csrf_token(plain), "next": "/"})
    assert resp.status_code == 302
    assert "; secure" not in resp.headers.getlist("Set-Cookie")[0].lower()


def test_login_starts_a_fresh_session(client: FlaskClient) -> None:
    before = csrf_token(client)
    cookie_before = _session_cookie(client)
    after = _login(client)
    assert after != before, "a new CSRF token on login (session fixation)"
    assert _session_cookie(client) != cookie_before


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("PUT", "/api/workflows/csrf_victim", {"json": {"name": "x", "blocks": {}}}),
        ("DELETE", "/api/workflows/hello", {}),
        ("POST", "/api/workflows/hello/runs", {"data": {"input": "{}"}}),
        ("POST", "/api/workflows/hello/runs", {"json": {}}),
        (
            "POST",
            "/api/workflows/hello/runs",
            {"data": '{"a": 1}', "content_type": "text/plain"},
        ),
        ("POST", "/api/runs/00000000-0000-0000-0000-000000000000/rerun", {"json": {}}),
        ("POST", "/api/templates/order_processing/instantiate", {"json": {"name": "c"}}),
        ("POST", "/templates/order_processing/use", {"data": {"name": "csrf_victim"}}),
        ("POST", "/logout", {"data": {}}),
    ],
)
def test_a_cross_site_request_on_the_cookie_is_refused(
    client: FlaskClient, workflows_dir: Path, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    """What a forged cross-site form (or fetch) can send: the cookie, not the CSRF token."""
    token = _login(client)
    resp = client.open(url, method=method, **kwargs)
    assert resp.status_code == 403, (method, url, resp.status_code)
    # A token of another session does not do either.
    other = FlaskClient(client.application)
    other_token = _login(other)
    assert other_token != token
    resp = client.open(url, method=method, headers={"X-CSRF-Token": other_token}, **kwargs)
    assert resp.status_code == 403
    assert (workflows_dir / "hello.yaml").is_file()
    assert not (workflows_dir / "csrf_victim.yaml").exists()
    assert client.get("/api/workflows").status_code == 200, "still logged in"


@pytest.mark.parametrize("given", ["é", "tökén", "\u2603" * 43])
def test_a_non_ascii_csrf_token_is_403_not_500(client: FlaskClient, given: str) -> None:
    # hmac.compare_digest refuses str with non-ASCII characters (TypeError): a
    # crafted form field or header made a 500 instead of a clear 403.
    csrf_token(client)  # the session has a CSRF token to compare with
    resp = client.post("/login", data={"token": TOKEN, "csrf_token": given})
    assert resp.status_code == 403
    _login(client)
    resp = client.post(
        "/api/workflows/hello/validate",
        json={"name": "x", "blocks": {}},
        headers={"X-CSRF-Token": given.encode().decode("latin-1")},
    )
    assert resp.status_code == 403
    resp = client.post("/logout", data={"csrf_token": given})
    assert resp.status_code == 403


def test_a_session_cookie_is_dead_after_logout(client: FlaskClient) -> None:
    token = _login(client)
    stolen = _session_cookie(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/workflows").status_code == 401
    # The cookie as it was before logout (copied, or kept by a second tab): refused.
    client.set_cookie("flowyard_session", stolen)
    assert client.get("/api/workflows").status_code == 401
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 401
    # Logging in again works, and only that session ended.
    _login(client)
    assert client.get("/api/workflows").status_code == 200


def test_logout_ends_only_its_own_session(client: FlaskClient) -> None:
    other = FlaskClient(client.application)
    _login(other)
    token = _login(client)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert other.get("/api/workflows").status_code == 200


def _log_out_and_in(client: FlaskClient, token: str) -> str:
    """What another tab of the same browser does: the cookie is the same jar."""
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    return _login(client)


def test_a_page_with_a_stale_csrf_token_gets_the_current_one_from_the_session(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """An open page's token after a login in another tab: refused as a CSRF
    refusal the page can tell apart, and GET /api/session (which needs the
    session itself) gives the current one."""
    stale = _login(client)
    current = _log_out_and_in(client, stale)
    doc = {"version": 1, "name": "x", "blocks": {"start": {"type": "manual"}}}
    url = "/api/workflows/hello/validate"
    refused = client.post(url, json=doc, headers={"X-CSRF-Token": stale})
    assert refused.status_code == 403 and refused.get_json()["reason"] == "csrf"
    session = client.get("/api/session")
    assert session.headers["Cache-Control"] == "no-store"
    assert session.get_json() == {"csrf_token": current}
    assert client.post(url, json=doc, headers={"X-CSRF-Token": current}).status_code == 200
    # No session, no token: a 401 (and a bearer client has no session to have one).
    assert FlaskClient(client.application).get("/api/session").status_code == 401
    bearer = FlaskClient(client.application).get("/api/session", headers=auth)
    assert bearer.get_json() == {"csrf_token": None}


def test_the_login_forms_token_is_given_as_json_to_a_page_logging_in_again(
    client: FlaskClient,
) -> None:
    as_json = client.get("/login", headers={"Accept": "application/json"}).get_json()
    assert as_json == {"csrf_token": csrf_token(client)}


def _session_id(app: Flask, client: FlaskClient) -> str:
    # The session's id, not the cookie: a permanent session's cookie is signed anew
    # (with the current second) on every answer.
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return serializer.loads(_session_cookie(client))["sid"]


def test_a_login_form_from_before_a_login_elsewhere_goes_on_logged_in(
    app: Flask, client: FlaskClient
) -> None:
    """It was "403 · CSRF token missing or invalid"; the session is logged in
    already (another tab), so the form has nothing to do but go on."""
    stale = csrf_token(client)
    _login(client)
    sid = _session_id(app, client)
    resp = client.post("/login", data={"token": TOKEN, "csrf_token": stale, "next": "/runs"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/runs"
    assert _session_id(app, client) == sid  # the same session, not a new one
    assert client.get("/api/workflows").status_code == 200


def test_an_expired_login_form_is_shown_again_without_logging_in(client: FlaskClient) -> None:
    """Cookies cleared after the form was shown: not logged in by a token the
    session never gave (login CSRF), but the form again, saying why."""
    stale = csrf_token(client)
    client.delete_cookie("flowyard_session")
    resp = client.post("/login", data={"token": TOKEN, "csrf_token": stale, "next": "/runs"})
    assert resp.status_code == 403
    page = resp.get_data(as_text=True)
    assert "This login form expired" in page and 'name="token"' in page
    assert 'name="next" value="/runs"' in page
    assert client.get("/api/workflows").status_code == 401
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert fresh is not None and fresh.group(1) != stale
    again = client.post("/login", data={"token": TOKEN, "csrf_token": fresh.group(1)})
    assert again.status_code == 302
    assert client.get("/api/workflows").status_code == 200


def test_a_session_signed_with_another_key_is_refused(
    app: Flask, client: FlaskClient, engine_bridge: Any, workflows_dir: Path
) -> None:
    forger = create_app(UIConfig(engine_bridge, TOKEN, "some-other-key", workflows_dir))
    fc = forger.test_client()
    _login(fc)
    client.set_cookie("flowyard_session", _session_cookie(fc))
    assert client.get("/api/workflows").status_code == 401


def test_an_empty_session_secret_is_refused(engine_bridge: Any, workflows_dir: Path) -> None:
    # Without a key Flask has no session at all: login would fail with a 500.
    with pytest.raises(ValueError):
        create_app(UIConfig(engine_bridge, TOKEN, "", workflows_dir))


def test_the_generated_session_secret_is_random_and_private(tmp_path: Path) -> None:
    from ui.server import resolve_secret_key

    keys = {resolve_secret_key(tmp_path / str(i)) for i in range(3)}
    assert len(keys) == 3 and all(len(k) >= 40 for k in keys)
    assert resolve_secret_key(tmp_path / "0") in keys, "kept across restarts"
    assert (tmp_path / "0" / ".flowyard" / "secret_key").stat().st_mode & 0o077 == 0
    assert SECRET_KEY not in keys


# -- constant-time comparisons -----------------------------------------------------------


class _Spy:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return hmac.compare_digest(a, b)

    def saw(self, value: str) -> bool:
        raw = value.encode()
        return any(raw in (a if isinstance(a, bytes) else str(a).encode()) for a, _ in self.calls)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> _Spy:
    import blocks._signatures
    import ui.auth

    s = _Spy()
    # Both modules call hmac.compare_digest through their own `hmac` name.
    monkeypatch.setattr(ui.auth, "hmac", _HmacProxy(s))
    monkeypatch.setattr(blocks._signatures, "hmac", _HmacProxy(s))
    return s


class _HmacProxy:
    def __init__(self, spy: _Spy) -> None:
        self.compare_digest = spy
        self.new = hmac.new


def test_tokens_are_compared_in_constant_time(client: FlaskClient, spy: _Spy) -> None:
    client.get("/api/workflows", headers={"Authorization": "Bearer guess-1"})
    assert spy.saw("guess-1"), "bearer token"
    client.post("/login", data={"token": "guess-2", "csrf_token": csrf_token(client)})
    assert spy.saw("guess-2"), "login token"
    client.post("/login", data={"token": TOKEN, "csrf_token": "guess-3"})
    assert spy.saw("guess-3"), "CSRF token"
    _login(client)
    spy.calls.clear()
    assert client.get("/api/workflows").status_code == 200
    assert spy.calls, "session fingerprint"


def test_webhook_signatures_are_compared_in_constant_time(client: FlaskClient, spy: _Spy) -> None:
    resp = client.post(
        "/webhooks/test/signed", json={"a": 1}, headers={"X-Flowyard-Signature": "sha256=guess4"}
    )
    assert resp.status_code == 401
    assert spy.saw("guess4")
    resp = client.post(
        "/webhooks/test/signed",
        json={"a": 1},
        headers={
            "webhook-id": "m1",
            "webhook-timestamp": str(int(__import__("time").time())),
            "webhook-signature": "v1,guess5",
        },
    )
    assert resp.status_code == 401
    assert spy.saw("v1,guess5")
