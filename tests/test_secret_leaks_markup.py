"""Secrets a peer echoes in an HTML or XML page are redacted (real embedded
PostgreSQL, a real peer on 127.0.0.1).

Many servers answer a refused request with an HTML page quoting what they got (a
framework's error page, a proxy's, a SOAP fault in XML), escaped as markup: `&` is
``&amp;``, `<` is ``&lt;``, `"` is ``&quot;`` or ``&#34;``. A password holding one of
them was recorded in clear in the HTTP block's error, which quotes the body: the
redactor knew JSON, Python and URL forms of a secret, not markup's.
"""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_secret_leaks import recorded_text
from werkzeug import Request, Response

from engine.runtime import Runtime

WORKFLOW = """
name: markup_echo_{kind}
blocks:
  start: {{type: manual}}
  as_json:
    type: http
    method: POST
    url: {url}
    json: {{password: "<env.FY_MARKUP_SECRET>"}}
    on_error: continue
  as_form:
    type: http
    method: POST
    url: {url}
    form: {{password: "<env.FY_MARKUP_SECRET>"}}
    on_error: continue
edges: [start -> as_json, start -> as_form]
"""


def _markupsafe(text: str) -> str:
    """Escaped as Jinja and Flask pages escape (MarkupSafe): `"` as &#34;, `'` as &#39;."""
    return html.escape(text, quote=False).replace('"', "&#34;").replace("'", "&#39;")


def _php(text: str) -> str:
    """PHP's htmlspecialchars (ENT_QUOTES, PHP 8.1's default): `'` as &#039;."""
    return html.escape(text, quote=False).replace('"', "&quot;").replace("'", "&#039;")


def _xml(text: str) -> str:
    return html.escape(text, quote=False).replace('"', "&quot;").replace("'", "&apos;")


ESCAPES = {"html": html.escape, "markupsafe": _markupsafe, "php": _php, "xml": _xml}


def _page(escape: Any) -> Any:
    def answer(request: Request) -> Response:
        # What the peer got: the JSON body as text, a form's value decoded.
        got = request.form.get("password") or request.get_data(as_text=True)
        body = f"<html><body><h1>400 Bad Request</h1><pre>{escape(got)}</pre></body></html>"
        return Response(body, 400, content_type="text/html")

    return answer


@pytest.mark.parametrize("kind", ESCAPES)
async def test_a_secret_a_peer_quotes_in_an_html_page_is_redacted(
    run_yaml: Any, runtime: Runtime, httpserver: HTTPServer, monkeypatch: Any, kind: str
) -> None:
    secret = "Tr0ub<4d>or&3\"x'y"
    monkeypatch.setenv("FY_MARKUP_SECRET", secret)
    httpserver.expect_request("/refuse", method="POST").respond_with_handler(_page(ESCAPES[kind]))
    result = await run_yaml(WORKFLOW.format(kind=kind, url=httpserver.url_for("/refuse")))
    assert result["status"] == "succeeded", result["error"]
    # The peer got the secret itself, in a JSON body and in a form.
    got = sorted(r.form.get("password") or r.get_json()["password"] for r, _ in httpserver.log)
    assert got == [secret, secret]

    stored = (await runtime.run_result(result["execution_id"]))["blocks"]
    for block in ("as_json", "as_form"):
        message = stored[block]["error"]["message"]
        assert "returned 400: " in message and "***" in message, message
    text = await recorded_text(runtime, result)
    escape = ESCAPES[kind]
    for leaked in (escape(secret), escape(json.dumps(secret)[1:-1]), "Tr0ub&lt;4d&gt;or&amp;3"):
        assert leaked not in text, f"{leaked!r} leaked"
        assert json.dumps(leaked)[1:-1] not in text, f"{leaked!r} leaked (JSON-escaped)"
