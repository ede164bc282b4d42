"""Each operation's ``operationId`` in /api/openapi.json: stable names clients and
generated SDKs call the operations by, so one never changes once given (a renamed
route keeps its id). A route without one here makes the document fail to build,
which tests/ui/test_http_openapi.py reports."""

from __future__ import annotations

from typing import Any

WEBHOOK_METHODS = ("get", "post", "put", "patch", "delete")

OPERATION_IDS: dict[tuple[str, str], str] = {
    **{("/webhooks/{path}", m): f"deliverWebhook{m.title()}" for m in WEBHOOK_METHODS},
    ("/webhooks/{path}", "options"): "webhookMethods",
    **{("/webhooks/", m): f"webhookWithoutPath{m.title()}" for m in WEBHOOK_METHODS},
    ("/webhooks/", "options"): "webhookWithoutPathOptions",
    ("/metrics", "get"): "getMetrics",
    ("/api/health", "get"): "getHealth",
    ("/api/workflows", "get"): "listWorkflows",
    ("/api/workflows/{name}", "get"): "getWorkflow",
    ("/api/workflows/{name}", "put"): "saveWorkflow",
    ("/api/workflows/{name}", "delete"): "deleteWorkflow",
    ("/api/workflows/{name}/validate", "post"): "validateWorkflow",
    ("/api/workflows/{name}/runs", "post"): "startRun",
    ("/api/runs", "get"): "listRuns",
    ("/api/runs/{execution_id}", "get"): "getRun",
    ("/api/runs/{execution_id}/events", "get"): "getRunEvents",
    ("/api/runs/{execution_id}/stream", "get"): "streamRun",
    ("/api/runs/{execution_id}/cancel", "post"): "cancelRun",
    ("/api/runs/{execution_id}/rerun", "post"): "rerunRun",
    ("/api/block-types", "get"): "listBlockTypes",
    ("/api/schema", "get"): "getWorkflowSchema",
    ("/api/templates", "get"): "listTemplates",
    ("/api/templates/{template_id}/instantiate", "post"): "instantiateTemplate",
    ("/api/openapi.json", "get"): "getOpenapi",
    ("/api/events/orders", "get"): "listEventOrders",
    ("/api/events/orders/{order_id}", "get"): "getEventOrder",
    ("/api/events/orders/{order_id}/replay", "post"): "replayEventOrder",
    ("/api/events/analytics", "get"): "getEventAnalytics",
    ("/login", "get"): "loginPage",
    ("/login", "post"): "login",
    ("/api/session", "get"): "getSession",
    ("/logout", "post"): "logout",
    ("/", "get"): "indexPage",
    ("/new", "get"): "newWorkflowPage",
    ("/templates/{template_id}/use", "post"): "useTemplatePage",
    ("/editor/{name}", "get"): "editorPage",
    ("/runs", "get"): "runsPage",
    ("/runs/{execution_id}", "get"): "runViewerPage",
    ("/events", "get"): "eventsPage",
}


def with_operation_ids(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``paths`` with each operation's ``operationId`` (KeyError for one without)."""
    for path, ops in paths.items():
        for method, operation in ops.items():
            operation["operationId"] = OPERATION_IDS[(path, method)]
    return paths
