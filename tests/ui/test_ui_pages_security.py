"""Security of the web UI's pages over HTTP: escaping of what they render, the
security headers and CSP, workflow names in URLs, and login redirects."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from ui_security_support import PAGE_ENDPOINTS_PREFIX, XSS, app_routes, csrf_token

from tests.ui.conftest import TOKEN

# -- escaping ------------------------------------------------------------------------------


@pytest.fixture
def xss_workflow(workflows_dir: Path) -> Iterator[str]:
    path = workflows_dir / "xss_title.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            name: "%s"
            description: "%s"
            blocks:
              start:
                type: manual
            """
        )
        % (XSS, XSS)
    )
    yield "xss_title"
    path.unlink(missing_ok=True)


def _assert_escaped(html: str) -> None:
    assert "<script>window.__xss" not in html and "<img src=x" not in html


def test_pages_escape_what_they_render(
    client: FlaskClient, auth: dict[str, str], xss_workflow: str
) -> None:
    html = client.get("/", headers=auth).get_data(as_text=True)
    assert "&lt;script&gt;window.__xss=1" in html, "the title is shown, escaped"
    _assert_escaped(html)
    for path in (
        f"/runs?workflow={XSS}",
        f"/runs/{XSS.replace('/', '')}",
        '/runs?workflow="><script>alert(1)</script>',
    ):
        html = client.get(path, headers=auth).get_data(as_text=True)
        _assert_escaped(html)
        assert "<script>alert(1)" not in html
    html = client.get('/login?next=/x"><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)" not in html
    html = client.get("/new?name=<script>alert(1)</script>", headers=auth).get_data(as_text=True)
    assert "<script>alert(1)" not in html


def test_jinja_autoescapes_every_template(app: Flask) -> None:
    for name in app.jinja_env.list_templates():
        if name.endswith(".html"):
            assert app.jinja_env.autoescape is True or app.jinja_env.autoescape(name), name


def test_templates_mark_nothing_safe() -> None:
    root = Path(__file__).resolve().parents[2] / "ui" / "templates"
    for path in root.glob("*.html"):
        text = path.read_text()
        assert "|safe" not in text.replace(" ", "") and "autoescape false" not in text, path


# -- security headers ------------------------------------------------------------------


def test_every_page_has_the_security_headers(
    app: Flask, client: FlaskClient, auth: dict[str, str], order_id: str
) -> None:
    pages = [
        url
        for endpoint, method, url in app_routes(app, order_id)
        if method == "GET" and endpoint.startswith(PAGE_ENDPOINTS_PREFIX)
    ]
    responses = [client.get(url, headers=auth) for url in pages]
    responses += [
        client.get("/login"),
        client.get("/", headers={"Accept": "text/html"}),  # the 401 login page
        client.get("/editor/no such", headers=auth),  # an error page
        client.get("/static/js/run.js"),
        client.get("/api/health"),
    ]
    for resp in responses:
        csp = resp.headers.get("Content-Security-Policy", "")
        directives = dict(
            (d.split(" ", 1) + [""])[:2] for d in (p.strip() for p in csp.split(";")) if d
        )
        assert directives.get("script-src") == "'self'", (resp.request.path, csp)
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert directives.get("frame-ancestors") == "'none'"
        assert directives.get("object-src") == "'none'"
        assert directives.get("base-uri") == "'self'"
        assert resp.headers.get("X-Frame-Options") == "DENY"
        assert resp.headers.get("X-Content-Type-Options") == "nosniff"


def test_the_csp_allows_the_x6_plugin_styles_the_editor_uses() -> None:
    """X6's Selection, Snapline and Transform insert a <style> whatever autoInsertCSS
    says: the CSP allows exactly their text by hash. A new vendored X6 changes the text."""
    import base64
    import hashlib
    import json

    from ui.app import CSP

    vendor = Path(__file__).resolve().parents[2] / "ui" / "static" / "vendor" / "x6.min.js"
    source = vendor.read_text()
    for plugin in ("selection", "snapline", "transform"):
        m = re.search(
            rf'this\.name="{plugin}".{{0,200}}?\(this\.name,("(?:[^"\\]|\\.)*")\)', source
        )
        assert m, plugin
        css = json.loads(m.group(1))
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in CSP, plugin


# -- workflow names and redirects --------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "..%2F..%2Fetc%2Fpasswd",
        "..",
        "%2e%2e",
        ".hidden",
        "hello%0A",  # `$` in the name pattern matched before a trailing newline
        "hello%00",
        "hello.yaml",
        "-rf",
        "a" * 101,
    ],
)
def test_a_bad_workflow_name_is_404_on_the_editor_page(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, name: str
) -> None:
    resp = client.get(f"/editor/{name}", headers=auth)
    assert resp.status_code == 404, (name, resp.status_code)
    # Not creatable through the API either (the editor's Save calls it).
    resp = client.put(f"/api/workflows/{name}", headers=auth, json={"name": "x", "blocks": {}})
    assert resp.status_code in (400, 404, 405, 422), (name, resp.status_code)
    assert sorted(p.name for p in workflows_dir.iterdir() if "\n" in p.name) == []


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",  # browsers drop tabs and newlines: "//evil.example"
        "/\n/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "/login?next=//evil.example",
    ],
)
def test_login_next_never_leaves_the_site(client: FlaskClient, target: str) -> None:
    resp = client.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf_token(client), "next": target}
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"
    html = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert 'name="next" value="/"' in html


def test_login_next_keeps_a_local_path(client: FlaskClient) -> None:
    resp = client.post(
        "/login",
        data={"token": TOKEN, "csrf_token": csrf_token(client), "next": "/runs?workflow=hello"},
    )
    assert resp.headers["Location"] == "/runs?workflow=hello"
