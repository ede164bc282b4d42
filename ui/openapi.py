"""The OpenAPI 3.1 document served at ``/api/openapi.json``.

Written by hand next to the routes; ``tests/ui/test_http_openapi.py`` fails when a
registered route (path + method) is missing here or documented but gone.
"""

from __future__ import annotations

from typing import Any

_JSON = {"application/json": {"schema": {"type": "object"}}}
_PROBLEMS = {
    "description": "invalid workflow: every problem found",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}},
}
_401 = {"description": "no token and no logged-in session"}
_404 = {"description": "not found"}
_HTML = {"description": "an HTML page", "content": {"text/html": {}}}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    body: bool = False,
    public: bool = False,
    params: list[str] | None = None,
    query: list[str] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    if not public:
        op["responses"].setdefault("401", _401)
    else:
        op["security"] = []
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in params or []
    ]
    parameters += [
        {"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
        for q in query or []
    ]
    if parameters:
        op["parameters"] = parameters
    if body:
        op["requestBody"] = {"content": _JSON}
    return op


def _webhook_op(method: str) -> dict[str, Any]:
    return _op(
        f"{method} a webhook delivery: start the workflow whose webhook block has this path",
        {
            "202": {"description": "accepted: {execution_id, status_url}", "content": _JSON},
            "200": {"description": "respond: sync — the run's final output", "content": _JSON},
            "400": {"description": "bad JSON"},
            "401": {"description": "bad signature"},
            "404": {"description": "unknown path"},
            "409": {"description": "the idempotency key was already used for a different request"},
            "413": {"description": "body over FLOWYARD_MAX_BODY"},
        },
        body=True,
        public=True,
        params=["path"],
    )


def document() -> dict[str, Any]:
    ok = {"200": {"description": "OK", "content": _JSON}}
    run = ["execution_id"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "flowyard",
            "version": "1",
            "description": "Workflows, runs, templates and webhooks.",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "flowyard_session"},
            },
            "schemas": {
                "Problems": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "problems": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    k: {"type": ["string", "null"]}
                                    for k in ("file", "block", "field", "message")
                                },
                            },
                        },
                    },
                }
            },
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/webhooks/{path}": {
                m.lower(): _webhook_op(m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
            },
            # No path: no workflow can listen there; a JSON 404, like an unknown path.
            "/webhooks/": {
                m.lower(): _op(
                    "no webhook path: always 404",
                    {"404": {"description": "no workflow listens on /webhooks/"}},
                    public=True,
                )
                for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
            },
            "/metrics": {
                "get": _op("Prometheus metrics: runs by status, block durations, queue depth", ok)
            },
            "/api/health": {
                "get": _op(
                    "database health",
                    {**ok, "503": {"description": "database unavailable"}},
                    public=True,
                )
            },
            "/api/workflows": {"get": _op("list workflows", ok)},
            "/api/workflows/{name}": {
                "get": _op(
                    "read a workflow: YAML or JSON by Accept (or ?format=yaml|json); either"
                    " is the workflow document itself (the format of GET /api/schema)",
                    {
                        "200": {
                            "description": "the workflow",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "application/yaml": {"schema": {"type": "string"}},
                            },
                        },
                        "404": _404,
                        "422": _PROBLEMS,
                    },
                    params=["name"],
                    query=["format"],
                ),
                "put": _op(
                    "save (validated first); YAML or JSON body",
                    {
                        "200": {"description": "saved"},
                        "201": {"description": "created"},
                        "422": _PROBLEMS,
                    },
                    body=True,
                    params=["name"],
                ),
                "delete": _op(
                    "delete a workflow file",
                    {"204": {"description": "deleted"}, "404": _404},
                    params=["name"],
                ),
            },
            "/api/workflows/{name}/validate": {
                "post": _op(
                    "validate without saving", {**ok, "422": _PROBLEMS}, body=True, params=["name"]
                )
            },
            "/api/workflows/{name}/runs": {
                "post": _op(
                    "start a manual run; the JSON body is the input",
                    {
                        "202": {
                            "description": "queued: {execution_id, status_url, stream_url, run_url}"
                        },
                        "200": {"description": "?wait=1: the run result, whatever its status"},
                        "504": {
                            "description": "?wait=1 and the run did not end within 300 s:"
                            " {error, execution_id, status_url}; the run goes on"
                        },
                        "404": _404,
                        "422": _PROBLEMS,
                    },
                    body=True,
                    params=["name"],
                    query=["wait"],
                )
            },
            "/api/runs": {
                "get": _op(
                    "list runs, newest first (limit at most 500; `next_before` when there may"
                    " be older ones: ask again with ?before=it)",
                    ok,
                    query=["workflow", "status", "limit", "before"],
                )
            },
            "/api/runs/{execution_id}": {
                "get": _op(
                    "one run with its blocks (the run result)", {**ok, "404": _404}, params=run
                )
            },
            "/api/runs/{execution_id}/events": {
                "get": _op(
                    "the run's events after a sequence number, up to 10,000 per answer"
                    " (`next_after` when there may be more: ask again with ?after=it)",
                    {**ok, "404": _404},
                    params=run,
                    query=["after"],
                )
            },
            "/api/runs/{execution_id}/stream": {
                "get": _op(
                    "server-sent events of the run's events, live; ends after the final event",
                    {
                        "200": {
                            "description": "text/event-stream",
                            "content": {"text/event-stream": {}},
                        },
                        "404": _404,
                    },
                    params=run,
                    query=["after"],
                )
            },
            "/api/runs/{execution_id}/cancel": {
                "post": _op(
                    "stop a run wherever it executes (docs/engine.md, Cancelling)",
                    {
                        "200": {"description": "cancelled (asking again is fine)"},
                        "202": {"description": "cancelling: its process stops it"},
                        "404": _404,
                        "409": {"description": "the run had already succeeded or failed"},
                    },
                    params=run,
                )
            },
            "/api/runs/{execution_id}/rerun": {
                "post": _op(
                    "run an ended run again with the same input; body"
                    ' {"from_failed": bool} (default true: reuse the blocks that succeeded)',
                    {
                        "202": {"description": "queued"},
                        "400": {"description": "the body is no such JSON object"},
                        "404": _404,
                        "409": {"description": "the run has not ended"},
                    },
                    body=True,
                    params=run,
                )
            },
            "/api/block-types": {"get": _op("block types for the editor palette", ok)},
            "/api/schema": {"get": _op("the workflow format's JSON Schema", ok)},
            "/api/templates": {"get": _op("list templates", ok)},
            "/api/templates/{template_id}/instantiate": {
                "post": _op(
                    "create a workflow from a template; a webhook path or name another"
                    " workflow has is changed in the copy (docs/templates.md)",
                    {
                        "201": {
                            "description": "created: {name, file, title, editor_url,"
                            " webhooks: [{block, method, path, url}],"
                            " changes: [{block, field, was, now, message}]}",
                            "content": _JSON,
                        },
                        "404": _404,
                        "409": {"description": "exists"},
                    },
                    body=True,
                    params=["template_id"],
                )
            },
            "/api/openapi.json": {"get": _op("this document", ok)},
            "/api/events/orders": {
                "get": _op(
                    "orders in the event store, newest first",
                    {**ok, "404": {"description": "no event store"}},
                    query=["limit"],
                )
            },
            "/api/events/orders/{order_id}": {
                "get": _op("an order's events in order", {**ok, "404": _404}, params=["order_id"])
            },
            "/api/events/orders/{order_id}/replay": {
                "post": _op(
                    "the order's state as of a time or version (runs Replay Events)",
                    {**ok, "404": _404},
                    body=True,
                    params=["order_id"],
                )
            },
            "/api/events/analytics": {
                "get": _op(
                    "chart data from the template's analytics queries",
                    {**ok, "404": {"description": "no event store"}},
                )
            },
            "/login": {
                "get": _op("login page", {"200": _HTML}, public=True),
                "post": _op(
                    "log in with the token (form, CSRF)",
                    {"302": {"description": "logged in"}, "401": {"description": "bad token"}},
                    public=True,
                ),
            },
            "/logout": {
                "post": _op("log out (form, CSRF)", {"302": {"description": "logged out"}})
            },
            "/": {"get": _op("workflow list and templates gallery", {"200": _HTML})},
            "/new": {
                "get": _op(
                    "open the editor on a new workflow",
                    {"302": {"description": "to the editor"}},
                    query=["name"],
                )
            },
            "/templates/{template_id}/use": {
                "post": _op(
                    "use a template (form, CSRF)",
                    {"302": {"description": "to the editor"}},
                    params=["template_id"],
                )
            },
            "/editor/{name}": {"get": _op("the editor", {"200": _HTML}, params=["name"])},
            "/runs": {"get": _op("runs page", {"200": _HTML}, query=["workflow"])},
            "/runs/{execution_id}": {"get": _op("the run viewer", {"200": _HTML}, params=run)},
            "/events": {
                "get": _op(
                    "event-sourcing page: an order's events, time travel, charts", {"200": _HTML}
                )
            },
        },
    }
