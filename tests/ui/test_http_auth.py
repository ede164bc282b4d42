"""Token auth, login sessions, CSRF and security headers over HTTP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.ui.conftest import TOKEN

PUBLIC = ("/webhooks/", "/static/")
PUBLIC_EXACT = {"/api/health", "/login"}
SAMPLE = {
    "order_id": "o-1",
    "name": "hello",
    "execution_id": "00000000-0000-0000-0000-000000000000",
    "template_id": "order_processing",
    "path": "x/y",
    "filename": "css/app.css",
}


def _routes(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: SAMPLE[m.group(1)], rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, url))
    return out


def _csrf(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the login form carries a CSRF token"
    return m.group(1)


def _login(client: FlaskClient) -> None:
    resp = client.post("/login", data={"token": TOKEN, "csrf_token": _csrf(client), "next": "/"})
    assert resp.status_code == 302


def test_every_route_needs_the_token(app: Flask, client: FlaskClient) -> None:
    checked = 0
    for method, url in _routes(app):
        if url in PUBLIC_EXACT or url.startswith(PUBLIC):
            continue
        for accept in ("application/json", "text/html"):
            resp = client.open(
                url, method=method, headers={"Accept": accept}, json={} if method != "GET" else None
            )
            assert resp.status_code == 401, (method, url, accept, resp.status_code)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        checked += 1
    assert checked >= 20


def test_wrong_token_is_refused(client: FlaskClient) -> None:
    assert client.get("/api/workflows", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/api/workflows", headers={"Authorization": TOKEN}).status_code == 401


def test_public_routes(client: FlaskClient) -> None:
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/health").get_json() == {"status": "ok", "database": "ok"}
    assert client.get("/login").status_code == 200
    assert client.get("/static/css/app.css").status_code == 200
    assert client.post("/webhooks/nothing/here", json={}).status_code == 404


def test_page_without_session_shows_login_with_401(client: FlaskClient) -> None:
    resp = client.get("/editor/hello", headers={"Accept": "text/html"})
    assert resp.status_code == 401
    body = resp.get_data(as_text=True)
    assert 'name="token"' in body and 'value="/editor/hello"' in body


def test_login_session_and_csrf(client: FlaskClient) -> None:
    # Login itself is CSRF-protected (login CSRF) and a wrong token is a 401.
    assert client.post("/login", data={"token": TOKEN}).status_code == 403
    assert (
        client.post("/login", data={"token": "bad", "csrf_token": _csrf(client)}).status_code == 401
    )
    _login(client)
    assert client.get("/").status_code == 200
    assert client.get("/api/workflows").status_code == 200
    # A state-changing request on the cookie needs the CSRF header...
    assert (
        client.post("/api/workflows/hello/validate", json={"name": "x", "blocks": {}}).status_code
        == 403
    )
    token = _csrf(client, "/")
    resp = client.post(
        "/api/workflows/hello/validate",
        json={"name": "x", "blocks": {}},
        headers={"X-CSRF-Token": token},
    )
    assert resp.status_code in (200, 422)
    # ...and logging out ends the session.
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/api/workflows").status_code == 401


def test_a_form_with_the_csrf_token_is_read_as_a_body_like_any_other(
    client: FlaskClient, auth: dict[str, Any]
) -> None:
    """The CSRF check read the form field, which consumed the body: the route then
    saw none. A run started with {} instead of the fields, a re-run's misspelled
    `from_faild` went unnoticed, a replay's `version` was dropped (the state now)."""
    _login(client)
    token = _csrf(client, "/")
    before = len(client.get("/api/runs?limit=500", headers=auth).get_json()["runs"])
    resp = client.post("/api/workflows/hello/runs", data={"csrf_token": token, "who": "x"})
    assert resp.status_code == 400 and "not JSON" in resp.get_json()["error"], resp.get_json()
    assert len(client.get("/api/runs?limit=500", headers=auth).get_json()["runs"]) == before
    resp = client.post(
        f"/api/runs/{SAMPLE['execution_id']}/rerun",
        data={"csrf_token": token, "from_faild": "1"},
    )
    assert resp.status_code == 400 and "not JSON" in resp.get_json()["error"], resp.get_json()
    # The header way, as the pages send it, and a form's own fields still work.
    resp = client.post(
        "/api/workflows/hello/runs", json={"who": "x"}, headers={"X-CSRF-Token": token}
    )
    assert resp.status_code == 202, resp.get_json()
    resp = client.post("/api/templates/order_processing/instantiate",
                       data={"csrf_token": token, "nmae": "x"})  # fmt: skip
    assert resp.status_code == 400 and "'nmae'" in resp.get_json()["error"], resp.get_json()
    assert "csrf_token" not in resp.get_json()["error"]


def test_login_never_redirects_off_site(client: FlaskClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil"):
        resp = client.post(
            "/login", data={"token": TOKEN, "csrf_token": _csrf(client), "next": target}
        )
        assert resp.status_code == 302
        assert resp.headers["Location"] == "/"


def test_security_headers(client: FlaskClient, auth: dict[str, Any]) -> None:
    for resp in (
        client.get("/login"),
        client.get("/api/workflows", headers=auth),
        client.get("/api/health"),
    ):
        csp = resp.headers["Content-Security-Policy"]
        assert (
            "default-src 'self'" in csp
            and "script-src 'self'" in csp
            and "unsafe-inline" not in csp
        )
        assert "frame-ancestors 'none'" in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_token_is_never_rendered(client: FlaskClient) -> None:
    _login(client)
    for path in ("/", "/editor/hello", "/runs", "/events", "/login"):
        assert TOKEN not in client.get(path).get_data(as_text=True), path


def test_template_form_needs_csrf(client: FlaskClient, workflows_dir: Path) -> None:
    _login(client)
    assert (
        client.post("/templates/order_processing/use", data={"name": "from_form"}).status_code
        == 403
    )
    token = _csrf(client, "/")
    resp = client.post(
        "/templates/order_processing/use", data={"name": "from_form", "csrf_token": token}
    )
    try:
        assert resp.status_code == 302 and resp.headers["Location"] == "/editor/from_form"
        assert (workflows_dir / "from_form.yaml").is_file()
        assert client.get("/editor/from_form").status_code == 200
    finally:  # the workspace is shared: a copy left here serves the template's webhook
        for path in workflows_dir.glob("from_form.*"):
            path.unlink()


def test_the_login_page_links_to_no_page_that_needs_a_login(client: FlaskClient) -> None:
    """Workflows, Runs and Events were offered to a logged-out user, each a 302 back."""
    page = client.get("/login").get_data(as_text=True)
    assert 'id="token"' in page
    assert 'href="/runs"' not in page and 'href="/events"' not in page
