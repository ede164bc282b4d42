"""The parts of the OpenAPI document (ui/openapi.py): an operation, the answers many
operations share, and a webhook delivery's answers (docs/blocks/webhook.md)."""

from __future__ import annotations

from typing import Any

from engine.runstore import RUN_STATUSES
from ui.openapi_schemas import json_of

JSON = {"application/json": {"schema": {"type": "object"}}}
#: Any JSON value: a sync webhook's body is its run's output, whatever its type (SPEC).
ANY_JSON = {"application/json": {"schema": {}}}
PROBLEMS = {
    "description": "invalid workflow: every problem found",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}},
}
#: An error's JSON body: {error, …} (components.schemas.Error).
ERROR_JSON = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
#: A page answers 401 with the login form itself; the API (and Accept: JSON) JSON.
UNAUTHORIZED = {
    "description": "no token and no logged-in session: {error, message}",
    "content": {**ERROR_JSON, "text/html": {}},
}
NO_CSRF = {
    "description": "a logged-in session's request without its CSRF token",
    "content": {**ERROR_JSON, "text/html": {}},
}
NOT_FOUND = {"description": "not found: {error}", "content": ERROR_JSON}
TOO_LARGE = {
    "description": "body over FLOWYARD_MAX_BODY: {error: 'payload too large', max_bytes};"
    " more than 64 KiB over it, the web server refuses it itself as it arrives: plain"
    " text, the connection closed (docs/deploy.md)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "max_bytes": {"type": "integer"}},
                "required": ["error", "max_bytes"],
            }
        },
        "text/plain": {"schema": {"type": "string"}},
    },
}
RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}
#: A token from an address past its limit of wrong tokens (ui/wrong_tokens.py).
WRONG_TOKENS = {
    "description": "too many wrong tokens from this address: {error: 'too_many_requests',"
    " message}; the token is not checked until Retry-After",
    "headers": RETRY_AFTER,
}
#: Any route, while PostgreSQL cannot be reached (ui/app.py, _database_outage).
UNAVAILABLE = {
    "description": "the database cannot be reached: {error: 'database unavailable', reason,"
    " retry_after} (an HTML page for pages); retry after Retry-After",
    "headers": RETRY_AFTER,
}
#: A save, delete or template copy the file system refused (ui/app.py, _folder_unwritable):
#: not retried, unlike the 503 (docs/api.md).
UNWRITABLE = {
    "description": "the workflows folder cannot be written (read-only, full):"
    " {error, reason}; retrying does not help until the folder is fixed",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
                "required": ["error", "reason"],
            }
        }
    },
}
#: Any route whose work took longer than 30 s while the database answers (ui/slow_answers.py).
TOO_SLOW = {
    "description": "the database answers, but the answer took longer than 30 s to build:"
    " {error: '… took longer than 30 s', reason} (an HTML page for pages); not an outage,"
    " and a retry likely takes as long (docs/deploy.md)"
}
HTML = {"description": "an HTML page", "content": {"text/html": {}}}
#: A text/plain answer (add a description).
TEXT = {"content": {"text/plain": {"schema": {"type": "string"}}}}
#: A page for a run, workflow or template that does not exist (or a name no file can have).
PAGE_NOT_FOUND = {**HTML, "description": "no such run, workflow or template: an HTML page"}
UNSAFE = ("post", "put", "patch", "delete")
#: The query parameters with a rule (docs/api.md); any other is a plain string.
QUERY_SCHEMAS: dict[str, dict[str, Any]] = {
    # More than 500 is capped, not refused: no maximum.
    "limit": {"type": "integer", "minimum": 1, "default": 50},
    "wait": {
        "enum": ["1", "0", "true", "false", "yes", "no"],
        "default": "0",
        "description": "case is ignored: True and YES are true",
    },
    # Below 0 is taken for 0.
    "after": {"type": "integer", "default": 0, "description": "an event's seq"},
    "iterations": {
        "type": "integer",
        "minimum": 1,
        "description": "only each container's first N iterations (and every failure)",
    },
    "before": {"type": "string", "format": "uuid", "description": "a run's execution_id"},
    "format": {"enum": ["yaml", "json"]},
    "status": {"enum": list(RUN_STATUSES)},
}


def op(
    summary: str,
    responses: dict[str, Any],
    *,
    body: bool = False,
    public: bool = False,
    params: list[str] | None = None,
    query: list[str] | None = None,
    headers: list[str] | None = None,
    page_query: list[str] | None = None,
) -> dict[str, Any]:
    """One operation. ``query``: the API's parameters, with their rules
    (QUERY_SCHEMAS); ``page_query``: a page's, plain strings whatever their name — a
    page shows what it cannot use (an unknown status) rather than refusing it."""
    built: dict[str, Any] = {"summary": summary, "responses": dict(responses)}
    if not public:
        built["responses"].setdefault("401", UNAUTHORIZED)
        built["responses"].setdefault("429", WRONG_TOKENS)
    else:
        built["security"] = []
    built["responses"].setdefault("503", UNAVAILABLE)
    built["responses"].setdefault("504", TOO_SLOW)
    parameters = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in params or []
    ]
    parameters += [
        {
            "name": q,
            "in": "query",
            "required": False,
            "schema": QUERY_SCHEMAS.get(q, {"type": "string"}),
        }
        for q in query or []
    ]
    parameters += [
        {"name": q, "in": "query", "required": False, "schema": {"type": "string"}}
        for q in page_query or []
    ]
    parameters += [
        {"name": h, "in": "header", "required": False, "schema": {"type": "string"}}
        for h in headers or []
    ]
    if parameters:
        built["parameters"] = parameters
    if body:
        built["requestBody"] = {"content": JSON}
        built["responses"].setdefault("413", TOO_LARGE)
    return built


def bad(what: str) -> dict[str, Any]:
    """A 400 (a request the route cannot read): why, in its ``error``."""
    return {"description": f"{what}: {{error}}", "content": ERROR_JSON}


def with_csrf(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``paths`` with the 403 a logged-in session's unsafe request without its CSRF
    token gets, on every operation that takes a token (ui/auth.py)."""
    for ops in paths.values():
        for method, operation in ops.items():
            if method in UNSAFE and operation.get("security") != []:
                operation["responses"].setdefault("403", NO_CSRF)
    return paths


def webhook_op(method: str) -> dict[str, Any]:
    """A delivery's answers (docs/blocks/webhook.md, "Responses")."""
    return op(
        f"{method} a webhook delivery: start the workflow whose webhook block has this path",
        {
            "202": json_of("RunAccepted", "accepted: {execution_id, status_url}"),
            "200": {
                "description": "respond: sync — the run's final output, any JSON value"
                " (`output: <f.a>` answers `1`)",
                "content": ANY_JSON,
            },
            "400": {"description": "bad JSON, a bad form or query, no idempotency key"},
            "401": {"description": "bad signature"},
            "404": {"description": "unknown path"},
            "405": {
                "description": "a workflow listens on this path with another method",
                "headers": {"Allow": {"schema": {"type": "string"}}},
            },
            "409": {"description": "the idempotency key was already used for a different request"},
            "413": TOO_LARGE,
            "415": {"description": "a Content-Encoding other than identity (gzip…)"},
            "500": {
                "description": "respond: sync and the run failed {execution_id, status_url,"
                " status, error}; or the webhook secret is not configured"
            },
            "503": {
                "description": "retry after Retry-After: the database cannot be reached, the"
                " workflow file no longer loads, or the idempotency key changed hands (nothing"
                " accepted); or the database did not store the run within"
                " FLOWYARD_ACCEPT_TIMEOUT (it may still: resend with the same idempotency key);"
                " or respond: sync and every thread waits may hold is waiting (server busy,"
                " nothing accepted); or respond: sync and the database went away while it"
                " waited (the run accepted: execution_id, status_url)",
                "headers": RETRY_AFTER,
            },
            "504": {
                "description": "respond: sync and the run did not end within 300 s:"
                " {error, reason, execution_id, status_url}; the run goes on"
            },
        },
        body=True,
        public=True,
        params=["path"],
    )


def webhook_options() -> dict[str, Any]:
    """``OPTIONS /webhooks/<path>``, which ui/webhooks.py answers itself."""
    return op(
        "the methods a workflow listens on at this path",
        {
            "204": {
                "description": "Allow names them (POST, OPTIONS)",
                "headers": {"Allow": {"schema": {"type": "string"}}},
            },
            "404": {"description": "no workflow listens on this path"},
        },
        public=True,
        params=["path"],
    )


#: A conditional read of a workflow whose If-Match names another version.
STALE = {
    "description": "If-Match names another version than the file's: {error, etag}",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}, "etag": {"type": "string"}},
                "required": ["error", "etag"],
            }
        }
    },
}
WAIT_504 = {
    "description": "the run did not end within 300 s: {error, execution_id, status_url};"
    " the run goes on"
}
BAD_AFTER = bad("after is not a whole number (a bad Last-Event-ID is ignored)")
BAD_ORDER_ID = bad("an order id PostgreSQL cannot hold: a NUL character or a lone surrogate")
