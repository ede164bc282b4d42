"""Helpers shared by the UI security tests: every route of the app with sample
values, and the CSRF token a page carries."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

# URL values that hit real handlers but change nothing (names that do not exist).
SAMPLE = {
    "name": "no_such_workflow_sec",
    "execution_id": "00000000-0000-0000-0000-000000000000",
    "template_id": "no_such_template_sec",
    "path": "no/such/hook",
    "filename": "css/app.css",
}
PAGE_ENDPOINTS_PREFIX = "pages."
XSS = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"


def app_routes(app: Flask, order_id: str) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) for every rule of the app."""
    values = {**SAMPLE, "order_id": order_id}
    out = []
    for rule in app.url_map.iter_rules():
        url = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, url))
    return out


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, f"{path} carries a CSRF token"
    return m.group(1)
