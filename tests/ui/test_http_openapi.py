"""/api/openapi.json documents every registered route and method, and nothing else."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient


def test_openapi_matches_the_routes(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    doc = client.get("/api/openapi.json", headers=auth).get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    registered = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            registered.add((path, method))
    assert registered - documented == set(), "routes missing from openapi.py"
    assert documented - registered == set(), "openapi.py documents routes that do not exist"
    for path, ops in doc["paths"].items():
        params = set(re.findall(r"{([a-z_]+)}", path))
        for op in ops.values():
            assert params <= {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}, (
                path
            )
