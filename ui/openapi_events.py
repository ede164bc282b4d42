"""The events page's operations in /api/openapi.json (ui/openapi.py): the Order
Processing event store's orders, an order's events, its time travel (Replay Events)
and the charts (ui/api_events.py)."""

from __future__ import annotations

from typing import Any

from ui.openapi_ops import BAD_ORDER_ID, JSON, NOT_FOUND, WAIT_504, bad, op
from ui.openapi_schemas import json_of


def event_paths() -> dict[str, Any]:
    ok = {"200": {"description": "OK", "content": JSON}}
    return {
        "/api/events/orders": {
            "get": op(
                "orders in the event store, newest first",
                {
                    **ok,
                    "400": bad("a limit that is not a number"),
                    "404": {"description": "no event store"},
                },
                query=["limit"],
            )
        },
        "/api/events/orders/{order_id}": {
            "get": op(
                "an order's events in order. An order id may hold '/' (`2024/ord-7`):"
                " GET …/o-1/replay reads the order `o-1/replay`, so OPTIONS on a replay"
                " path lists GET too; the replay itself is a POST",
                {**ok, "400": BAD_ORDER_ID, "404": NOT_FOUND},
                params=["order_id"],
            )
        },
        "/api/events/orders/{order_id}/replay": {
            "post": op(
                "the order's state as of a time or version (runs Replay Events and waits):"
                ' body {"as_of": ISO time with an offset} or {"version": n}, {} for now',
                {
                    "200": {
                        "description": "{execution_id, status, output, error}",
                        "content": JSON,
                    },
                    "202": {
                        "description": "every waiting request is taken: not waited for,"
                        " {execution_id, status_url, stream_url, run_url}"
                    },
                    "400": bad(
                        "a body that is not UTF-8, not JSON or not a JSON object;"
                        " a key other than as_of and version; an order id PostgreSQL"
                        " cannot hold (a NUL or a lone surrogate)"
                    ),
                    "404": {"description": "no Replay Events workflow"},
                    "422": {
                        "description": "as_of or version refused by Replay Events'"
                        " input_schema {error: 'the input does not match the workflow's"
                        " input_schema', problems}; no run is started",
                        "content": json_of("RunRefused", "")["content"],
                    },
                    "504": WAIT_504,
                },
                body=True,
                params=["order_id"],
            )
        },
        "/api/events/analytics": {
            "get": op(
                "chart data from the template's analytics queries",
                {**ok, "404": {"description": "no event store"}},
            )
        },
    }
