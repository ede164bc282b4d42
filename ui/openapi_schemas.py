"""The bodies /api/openapi.json declares (``components.schemas``): the run result,
the runs list, a run's links, health and the invalid-workflow problems.

``required`` names only what every answer has: a key some answers carry (the
stored record's ``trigger`` and ``input``, the links a waited-for run adds) is a
property, not a requirement. tests/ui/test_http_openapi_answers.py validates real
answers against them."""

from __future__ import annotations

from typing import Any

from engine.runstore import RUN_STATUSES

RUN_ID = {"type": "string", "format": "uuid"}
TIME_OR_NULL = {"type": ["string", "null"], "description": "ISO 8601 with an offset"}
TEXT_OR_NULL = {"type": ["string", "null"]}
#: A failed run's or block's error: {type, message, block} (SPEC, "Run result").
ERROR = {
    "type": ["object", "null"],
    "properties": {k: TEXT_OR_NULL for k in ("type", "message", "block")},
}
LINKS = {
    "status_url": {"type": "string", "description": "GET: the run result"},
    "stream_url": {"type": "string", "description": "GET: its events, live (SSE)"},
    "run_url": {"type": "string", "description": "the run viewer page"},
}
BLOCK = {
    "type": "object",
    "properties": {
        "status": {
            "type": "string",
            "description": "pending, running, succeeded, failed or skipped",
        },
        "attempts": {"type": "integer", "minimum": 0},
        "duration_ms": {"type": ["number", "null"]},
        "output": {"description": "any JSON value"},
        "error": ERROR,
        "started_at": TIME_OR_NULL,
        "finished_at": TIME_OR_NULL,
        "inputs": {"type": ["object", "null"], "description": "resolved, secrets redacted"},
        "port": TEXT_OR_NULL,
        "reused_from": {**TEXT_OR_NULL, "description": "a re-run's run the output is from"},
        "rolled_back": {"type": "boolean"},
    },
    "required": ["status", "attempts", "duration_ms", "output", "error"],
}
#: One problem of a workflow (validation): where, and what.
PROBLEM = {
    "type": "object",
    "properties": {k: TEXT_OR_NULL for k in ("file", "block", "field", "message")},
}
#: A run as the runs list gives it (no blocks, no output).
RUN_SUMMARY_PROPERTIES: dict[str, Any] = {
    "execution_id": RUN_ID,
    "workflow": {"type": "string", "description": "the workflow's name:"},
    "status": {"enum": list(RUN_STATUSES)},
    "trigger": TEXT_OR_NULL,
    "created_at": TIME_OR_NULL,
    "started_at": TIME_OR_NULL,
    "finished_at": TIME_OR_NULL,
    "error": ERROR,
    "file": {
        **TEXT_OR_NULL,
        "description": "the name its workflow has here now (/api/workflows/{name}),"
        " null when no file has it",
    },
}

SCHEMAS: dict[str, Any] = {
    # Every error the API answers (docs/api.md): why, in `error`; some add more
    # (`message`, `reason`, `execution_id`, `etag`, `problems`…).
    "Error": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
    "Problems": {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "problems": {"type": "array", "items": PROBLEM},
        },
    },
    # A manual run's (and a time travel's) 422: a workflow's problems are objects, an
    # input its input_schema refuses is said in texts, as `flowyard run` prints them.
    "RunRefused": {
        "type": "object",
        "properties": {
            "error": {"type": "string"},
            "problems": {
                "type": "array",
                "items": {
                    "anyOf": [
                        PROBLEM,
                        {"type": "string", "description": "n: 'seven' is not of type 'integer'"},
                    ]
                },
            },
        },
        "required": ["error", "problems"],
    },
    "RunResult": {
        "description": "SPEC, Run result; GET /api/runs/{id} adds the stored record's"
        " trigger, created_at, input and file, a waited-for run its links",
        "type": "object",
        "properties": {
            **RUN_SUMMARY_PROPERTIES,
            "input": {"description": "the run's input, secrets redacted"},
            "output": {"description": "any JSON value (SPEC, Run result)"},
            "blocks": {"type": "object", "additionalProperties": BLOCK},
            **LINKS,
        },
        "required": [
            "execution_id",
            "workflow",
            "status",
            "started_at",
            "finished_at",
            "output",
            "error",
            "blocks",
        ],
    },
    "RunList": {
        "type": "object",
        "properties": {
            "runs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": RUN_SUMMARY_PROPERTIES,
                    "required": ["execution_id", "workflow", "status", "file"],
                },
            },
            "next_before": {**RUN_ID, "description": "there may be older runs: ?before=it"},
        },
        "required": ["runs"],
    },
    "RunAccepted": {
        "description": "a manual run's 202 (a webhook's has only execution_id and status_url,"
        " and for a repeated delivery what it was: docs/blocks/webhook.md, Responses)",
        "type": "object",
        "properties": {
            "execution_id": RUN_ID,
            **LINKS,
            "duplicate": {
                "const": True,
                "description": "a repeat of a delivery: the first run's id, nothing started",
            },
            "pruned": {
                "const": True,
                "description": "with duplicate: retention has pruned that run since",
            },
            "retry_of": {
                **RUN_ID,
                "description": "a repeat of a delivery whose run failed or was cancelled:"
                " that run's id; this one is new and the key moved to it",
            },
        },
        "required": ["execution_id", "status_url"],
    },
    "Health": {
        "type": "object",
        "properties": {
            "status": {"enum": ["ok", "degraded"]},
            "database": {"enum": ["ok", "unavailable", "newer_schema"]},
            "error": {
                "type": "string",
                "description": "with newer_schema: the versions, and what to do",
            },
            "queue_worker": {
                "enum": ["running", "restarting"],
                "description": "a serve that runs a queue worker",
            },
            "blocks_pool": {
                "enum": ["exhausted"],
                "description": "every connection of the Database blocks' pool is in use",
            },
            "engine_process": {
                "enum": ["running", "restarting"],
                "description": "serve --engine-process: its engine process",
            },
        },
        "required": ["status", "database"],
    },
}


def json_of(schema: str, description: str) -> dict[str, Any]:
    """An answer whose JSON body is ``components.schemas[schema]``."""
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}
