"""The OpenAPI 3.1 document served at ``/api/openapi.json``.

Written by hand next to the routes; ``tests/ui/test_http_openapi.py`` fails when a
registered route (path + method) is missing here or documented but gone, and when an
answer or query parameter docs/api.md (or docs/blocks/webhook.md) gives a route is
not in its operation.
"""

from __future__ import annotations

from typing import Any

from ui.openapi_events import event_paths
from ui.openapi_ids import with_operation_ids
from ui.openapi_ops import (
    BAD_AFTER,
    JSON,
    NOT_FOUND,
    PROBLEMS,
    RETRY_AFTER,
    STALE,
    TEXT,
    UNWRITABLE,
    WAIT_504,
    bad,
    op,
    webhook_op,
    webhook_options,
    with_csrf,
)
from ui.openapi_pages import page_paths
from ui.openapi_schemas import SCHEMAS, json_of


def document() -> dict[str, Any]:
    ok = {"200": {"description": "OK", "content": JSON}}
    run = ["execution_id"]
    doc: dict[str, Any] = {
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
            "schemas": SCHEMAS,
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/webhooks/{path}": {
                **{m.lower(): webhook_op(m) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")},
                "options": webhook_options(),
            },
            # No path: no workflow can listen there; a JSON 404, like an unknown path.
            "/webhooks/": {
                m.lower(): op(
                    "no webhook path: always 404",
                    {"404": {"description": "no workflow listens on /webhooks/"}},
                    public=True,
                )
                for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
            },
            "/metrics": {
                "get": op(
                    "Prometheus metrics: runs by status, block durations, queue depth",
                    {
                        "200": {"description": "Prometheus text exposition format 0.0.4", **TEXT},
                        "503": {
                            "description": "the database cannot be reached (a comment line)",
                            **TEXT,
                        },
                    },  # fmt: skip
                )
            },
            "/api/health": {
                "get": op(
                    "database health",
                    {
                        "200": json_of("Health", "the database answers"),
                        "503": {
                            "description": "database unavailable, or migrated by a newer"
                            " flowyard: {status: degraded, …}"
                        },
                    },
                    public=True,
                )
            },
            "/api/workflows": {"get": op("list workflows", ok)},
            "/api/workflows/{name}": {
                "get": op(
                    "read a workflow: YAML or JSON by Accept (or ?format=yaml|json); either"
                    " is the workflow document itself (the format of GET /api/schema)",
                    {
                        "200": {
                            "description": "the workflow",
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "application/yaml": {"schema": {"type": "string"}},
                                # ?format=yaml without a YAML Accept: a browser shows it
                                "text/plain": {"schema": {"type": "string"}},
                            },
                        },
                        "304": {
                            "description": "If-None-Match names the file's version (or *):"
                            " not read again; ETag: that version"
                        },
                        "400": bad("a format other than json or yaml"),
                        "404": NOT_FOUND,
                        "412": STALE,
                        "422": PROBLEMS,
                    },
                    params=["name"],
                    query=["format"],
                    headers=["If-None-Match", "If-Match"],
                ),
                "put": op(
                    "save (validated first); YAML or JSON body. If-Match: the ETag the"
                    " workflow was read with (or *): saved only over that version."
                    " If-None-Match: *: saved only when no file exists (a new workflow)",
                    {
                        "200": {"description": "saved; ETag: the saved version"},
                        "201": {"description": "created; ETag: the saved version"},
                        "400": bad(
                            "a name that is not letters, digits, '_' and '-';"
                            " a body that is not UTF-8"
                        ),
                        "412": {
                            "description": "If-Match names another version than the file's"
                            " (changed or deleted since it was read), or If-None-Match: * and"
                            " the file exists: {error, etag}"
                        },
                        "422": PROBLEMS,
                        "500": UNWRITABLE,
                    },
                    body=True,
                    params=["name"],
                    headers=["If-Match", "If-None-Match"],
                ),
                "delete": op(
                    "delete a workflow file",
                    {
                        "204": {"description": "deleted"},
                        "404": NOT_FOUND,
                        "412": {**STALE, "description": "If-Match names another version"},
                        "500": UNWRITABLE,
                    },
                    params=["name"],
                    headers=["If-Match"],
                ),
            },
            "/api/workflows/{name}/validate": {
                "post": op(
                    "validate without saving: {valid, problems}",
                    {
                        **ok,
                        "400": bad("a body that is not UTF-8"),
                        "422": {
                            **PROBLEMS,
                            "description": "invalid: {error, valid: false,"
                            " problems}, whether the body parsed or not",
                        },
                    },
                    body=True,
                    params=["name"],
                )
            },
            "/api/workflows/{name}/runs": {
                "post": op(
                    "start a manual run; the JSON body is the input",
                    {
                        "202": json_of(
                            "RunAccepted", "queued: {execution_id, status_url, stream_url, run_url}"
                        ),
                        "200": json_of("RunResult", "?wait=1: the run result, whatever its status"),
                        "400": bad(
                            "a body that is not UTF-8, not JSON or not a JSON object; a bad wait"
                        ),
                        "504": WAIT_504,
                        "404": NOT_FOUND,
                        "409": {
                            "description": "the Idempotency-Key is the key of a run with"
                            " another input {error, execution_id}: nothing started",
                            "content": JSON,
                        },
                        "422": {
                            "description": "an invalid workflow {error, problems}; one with"
                            " several trigger blocks and no manual one {error, problems}: a run"
                            " by hand would not know where to start; or an input its"
                            " input_schema refuses {error: 'the input does not match the"
                            " workflow's input_schema', problems} (texts)",
                            "content": json_of("RunRefused", "")["content"],
                        },
                        "412": {
                            "description": "If-Match names another version than the"
                            " workflow file's (changed since it was read): {error, etag};"
                            " no run is started"
                        },
                    },
                    body=True,
                    params=["name"],
                    query=["wait"],
                    headers=["Idempotency-Key", "If-Match"],
                )
            },
            "/api/runs": {
                "get": op(
                    "list runs, newest first (limit at most 500; `next_before` when there may"
                    " be older ones: ask again with ?before=it). A run's `file` is the name its"
                    " workflow has here now (/api/workflows/{name}), null when no file has it",
                    {
                        "200": json_of("RunList", "{runs, next_before?}"),
                        "400": bad("a bad limit, status or before (or one that names no run)"),
                    },
                    query=["workflow", "status", "limit", "before"],
                )
            },
            "/api/runs/{execution_id}": {
                "get": op(
                    "one run with its blocks (the run result); `file` as the runs list says it",
                    {
                        "200": json_of("RunResult", "the run result"),
                        "404": NOT_FOUND,
                        "410": {"description": "pruned by retention: {error, pruned, pruned_at}"},
                        "504": {
                            "description": "reading the run took longer than 30 s while the"
                            " database answers (a very large run): {error, reason}"
                        },
                    },
                    params=run,
                )
            },
            "/api/runs/{execution_id}/events": {
                "get": op(
                    "the run's events after a sequence number, up to 10,000 per answer"
                    " (`next_after` when there may be more: ask again with ?after=it)",
                    {**ok, "400": BAD_AFTER, "404": NOT_FOUND},
                    params=run,
                    query=["after"],
                )
            },
            "/api/runs/{execution_id}/stream": {
                "get": op(
                    "server-sent events of the run's events, live; ends after the final event",
                    {
                        "200": {
                            "description": "text/event-stream",
                            "content": {"text/event-stream": {}},
                        },
                        "400": bad("after or iterations is not a whole number"),
                        "404": NOT_FOUND,
                    },
                    params=run,
                    query=["after", "iterations"],
                    headers=["Last-Event-ID"],
                )
            },
            "/api/runs/{execution_id}/cancel": {
                "post": op(
                    "stop a run wherever it executes (docs/engine.md, Cancelling)",
                    {
                        "200": {"description": "cancelled (asking again is fine)"},
                        "202": {"description": "cancelling: its process stops it"},
                        "404": NOT_FOUND,
                        "409": {"description": "the run had already succeeded or failed"},
                    },
                    params=run,
                )
            },
            "/api/runs/{execution_id}/rerun": {
                "post": op(
                    "run an ended run again with the same input; body"
                    ' {"from_failed": bool} (default true for a run that failed or was'
                    " cancelled: reuse the blocks that succeeded; false for one that"
                    " succeeded: every block again),"
                    ' {"current_version": bool} (default false: the workflow version the run'
                    " ran; true: the workflow as it is now)",
                    {
                        "202": {
                            "description": "queued: {execution_id, from_failed, status_url,"
                            " stream_url, run_url}; with an Idempotency-Key already sent for"
                            " such a re-run of this run, that re-run and duplicate: true"
                        },
                        "400": bad("the body is no such JSON object (another key too)"),
                        "404": {
                            "description": "no such run, or (current_version) no workflow"
                            " of its name now"
                        },
                        "409": {
                            "description": "the run has not ended, or a re-run of the same"
                            " work (of it, or of the run it re-ran) has not (its"
                            " execution_id), or its input held a"
                            " secret, which is not kept once a run has ended, or it is a"
                            " delivery its stored version would re-run under a new id (a"
                            " block reads <workflow.execution_id>, none <workflow.rerun_of>;"
                            " its `retry` is the body that re-runs it with the workflow as it"
                            " is now)"
                        },
                        "422": PROBLEMS,
                    },
                    body=True,
                    params=run,
                    headers=["Idempotency-Key"],
                )
            },
            "/api/block-types": {"get": op("block types for the editor palette", ok)},
            "/api/schema": {"get": op("the workflow format's JSON Schema", ok)},
            "/api/templates": {
                "get": op(
                    "list templates: {templates: [{id, name, description, path}]}, path"
                    " relative to the templates folder",
                    ok,
                )
            },
            "/api/templates/{template_id}/instantiate": {
                "post": op(
                    "create a workflow from a template; a webhook path or name another"
                    " workflow has is changed in the copy (docs/templates.md)",
                    {
                        "201": {
                            "description": "created: {name, file, title, editor_url,"
                            " webhooks: [{block, method, path, url}],"
                            " changes: [{block, field, was, now, message}]}",
                            "content": JSON,
                        },
                        "400": bad(
                            "a body that is not a JSON object (or a form with name), or with"
                            " another key than name (named); a bad name"
                        ),
                        "404": NOT_FOUND,
                        "409": {"description": "exists"},
                        "500": UNWRITABLE,
                        "503": {
                            "description": "templates are not installed; or the"
                            " database cannot be reached",
                            "headers": RETRY_AFTER,
                        },
                    },
                    body=True,
                    params=["template_id"],
                )
            },
            "/api/openapi.json": {"get": op("this document", ok)},
            **event_paths(),
            "/api/session": {
                "get": op(
                    "{csrf_token}: the session's current CSRF token (null on a bearer token)",
                    ok,
                )
            },
            **page_paths(),
        },
    }
    with_operation_ids(with_csrf(doc["paths"]))
    return doc
