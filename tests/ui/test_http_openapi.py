"""/api/openapi.json documents every registered route and method, and nothing else;
and every answer docs/api.md (and docs/blocks/webhook.md for the webhooks) lists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

DOCS = Path(__file__).resolve().parents[2] / "docs"
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE|OPTIONS) (/[^`\s]*)`")
CODE = re.compile(r"`([1-5]\d\d)\b")


def _shape(path: str) -> str:
    """A path with its parameters unnamed: docs/api.md says `<id>`, OpenAPI `{execution_id}`."""
    return re.sub(r"<[^>]+>|{[^}]+}", "{}", path.split("?")[0])


def test_openapi_matches_the_routes(app: Flask, client: FlaskClient, auth: dict[str, str]) -> None:
    doc = client.get("/api/openapi.json", headers=auth).get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    registered = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        # OPTIONS is Flask's own answer, but where a route answers it itself (webhooks).
        automatic = {"OPTIONS"} if getattr(rule, "provide_automatic_options", True) else set()
        for method in (rule.methods or set()) - {"HEAD"} - automatic:
            registered.add((path, method))
    assert registered - documented == set(), "routes missing from openapi.py"
    assert documented - registered == set(), "openapi.py documents routes that do not exist"
    for path, ops in doc["paths"].items():
        params = set(re.findall(r"{([a-z_]+)}", path))
        for op in ops.values():
            assert params <= {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}, (
                path
            )


def _api_md() -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """(method, path shape) → (the status codes, the query parameters) docs/api.md
    lists for it: its table of routes, and the section on manual runs."""
    text = (DOCS / "api.md").read_text()
    listed: dict[tuple[str, str], tuple[set[str], set[str]]] = {}

    def add(method: str, path: str, what: str) -> None:
        codes, query = listed.setdefault((method, _shape(path)), (set(), set()))
        codes.update(CODE.findall(what))
        query.update(re.findall(r"[?&](\w+)=", path))

    runs = text.split("## Manual runs: ", 1)[1].split("\n## ", 1)[0]
    add(*ROUTE.search(runs).groups(), runs)  # type: ignore[union-attr]
    for row in re.findall(r"^\| (`.+) \|$", text, flags=re.M):
        routes, what = row.split(" | ", 1)
        for method, path in ROUTE.findall(routes):
            add(method, path, what)
    return listed


def _webhook_md() -> dict[str, set[str]]:
    """method → the codes docs/blocks/webhook.md's "Responses" lists for a delivery."""
    table = (DOCS / "blocks" / "webhook.md").read_text().split("## Responses", 1)[1]
    codes: dict[str, set[str]] = {"options": set(), "post": set()}
    for row in re.findall(r"^\| (`.+) \|$", table.split("\n## ", 1)[0], flags=re.M):
        codes["options" if "`OPTIONS`" in row else "post"].update(CODE.findall(row))
    return codes


def test_openapi_has_every_answer_the_docs_list(client: FlaskClient, auth: dict[str, str]) -> None:
    """docs/api.md says the document has every route "with its parameters and answers":
    a status code or query parameter the docs give a route is in its operation."""
    doc = client.get("/api/openapi.json", headers=auth).get_json()
    by_shape = {_shape(path): ops for path, ops in doc["paths"].items()}
    listed = _api_md()
    assert len(listed) >= 20  # the table was read
    missing = []
    for (method, shape), (codes, query) in sorted(listed.items()):
        op: dict[str, Any] = by_shape.get(shape, {}).get(method.lower(), {})
        assert op, f"{method} {shape} is in docs/api.md, not in the OpenAPI document"
        missing += [f"{method} {shape} {c}" for c in sorted(codes - set(op["responses"]))]
        params = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        missing += [f"{method} {shape} ?{q}=" for q in sorted(query - params)]
    hooks = by_shape["/webhooks/{}"]
    for method, codes in _webhook_md().items():
        missing += [
            f"{method} /webhooks/{{}} {c}" for c in sorted(codes - set(hooks[method]["responses"]))
        ]
    assert missing == [], missing


def test_openapi_has_the_answers_every_route_may_give(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """The 503 any route answers while the database is down (docs/api.md's first
    lines), the 504 of one whose work took longer than 30 s on a database that
    answers (docs/deploy.md: only GET /api/runs/<id> listed it), the If-Match and
    If-None-Match a save takes, and the 405's Allow."""
    doc = client.get("/api/openapi.json", headers=auth).get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "503" in op["responses"], (method, path)
            assert "504" in op["responses"], (method, path)
    save = doc["paths"]["/api/workflows/{name}"]["put"]
    assert {"400", "412", "422"} <= set(save["responses"])
    headers = {p["name"] for p in save["parameters"] if p["in"] == "header"}
    assert {"If-Match", "If-None-Match"} <= headers
    assert "Allow" in doc["paths"]["/webhooks/{path}"]["post"]["responses"]["405"]["headers"]


def test_every_operation_has_a_unique_operation_id(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """Clients and generated SDKs call an operation by its operationId: none had one."""
    doc = client.get("/api/openapi.json", headers=auth).get_json()
    ids = [op.get("operationId") for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) >= 46 and None not in ids
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)
    assert doc["paths"]["/api/workflows"]["get"]["operationId"] == "listWorkflows"
