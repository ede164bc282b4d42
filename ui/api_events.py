"""The events page's API: an order's event stream, time travel, analytics charts.

Reads the Order Processing template's event store (``events``) in the runtime's
database; time travel runs the Replay Events workflow with ``as_of``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from engine._json import unstorable
from ui import api_runs  # its wait_for_run, read when called (api_runs imports ui.api)
from ui import workflow_files as wf
from ui.api import bp, error, jresponse, runtime
from ui.app import bridge, settings

ANALYTICS_SQL = (
    Path(__file__).resolve().parents[1] / "templates" / "order_processing" / "analytics.sql"
)
CHART_QUERIES = ("most_common_event_types", "events_per_hour")
REPLAY_TITLE = "Replay Events"
#: What a time travel may ask for: one point in time (null or absent: now).
REPLAY_KEYS = ("as_of", "version")
NOT_SET_UP = "the event store is not set up: create a workflow from the Order Processing template and run `flowyard db init`"


def _fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    rows = bridge().call(runtime().db.pool.fetch(sql, *args))
    return [dict(r) for r in rows]


def _store_missing(exc: Exception) -> bool:
    return type(exc).__name__ in ("UndefinedTableError", "UndefinedColumnError")


def analytics_queries(path: Path = ANALYTICS_SQL) -> dict[str, str]:
    """``-- name: x`` sections of the template's analytics.sql, by name."""
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    for chunk in re.split(r"^-- name:\s*", path.read_text(encoding="utf-8"), flags=re.M)[1:]:
        name, _, body = chunk.partition("\n")
        out[name.strip()] = body.strip()
    return out


@bp.get("/events/orders")
def event_orders() -> Response:
    try:
        limit = int(request.args.get("limit", 50))
    except ValueError:
        return error(400, "limit must be a number")
    if limit < 1:  # as GET /api/runs says it (0 or -3 listed one order)
        return error(400, "limit must be at least 1")
    limit = min(limit, 500)
    try:
        rows = _fetch(
            # The snapshots hold each order's head: no scan of the whole log.
            "SELECT order_id, version, last_event_at FROM order_snapshots"
            " ORDER BY last_event_at DESC NULLS LAST LIMIT $1",
            limit,
        )
    except Exception as exc:
        if _store_missing(exc):
            return error(404, NOT_SET_UP)
        raise
    return jresponse({"orders": rows})


def _unreadable(order_id: str) -> Response | None:
    """A 400 for an order id PostgreSQL cannot hold (a NUL, a lone surrogate): it
    reached the query and was a 500."""
    why = unstorable(order_id, "the order id")
    return None if why is None else error(400, why)


class OrderIdConverter(PathConverter):
    """An order id is any text the webhook took, slashes included, a leading one too:
    ``path`` refuses a leading slash, and werkzeug merged the doubled one of
    ``orders//ord-1`` with a 308 to ``orders/ord-1``, another order (the replay's POST
    redirected alike)."""

    regex = ".+?"
    part_isolating = False  # set from the regex otherwise: one that has no "/" is one part


@bp.record_once
def _order_ids(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["orderid"] = OrderIdConverter


#: The doubled slash is the id's, not one to merge.
ORDER_ROUTE = {"merge_slashes": False}


@bp.get("/events/orders/<orderid:order_id>", **ORDER_ROUTE)
def event_stream(order_id: str) -> Response:
    if (refused := _unreadable(order_id)) is not None:
        return refused
    try:
        rows = _fetch(
            # event_id: what the state's anomalies, event_correlations, subscriber_outbox,
            # Slack and the runs' errors name an event by; an auditor ties them to it here.
            "SELECT sequence_number, aggregate_version, event_id::text AS event_id, event_type,"
            " event_version, data, metadata, created_at"
            " FROM events WHERE aggregate_type = 'order' AND aggregate_id = $1"
            " ORDER BY aggregate_version",
            order_id,
        )
    except Exception as exc:
        if _store_missing(exc):
            return error(404, NOT_SET_UP)
        raise
    if not rows:
        return error(404, f"no events for order {order_id!r}")
    return jresponse({"order_id": order_id, "events": rows})


@bp.post("/events/orders/<orderid:order_id>/replay", **ORDER_ROUTE)
def event_replay(order_id: str) -> Response:
    """The order's state as of a point in time, by running Replay Events (waits).

    The body is read and checked as a manual run's input is (POST
    /api/workflows/<name>/runs): an unreadable or misspelled point in time was
    taken for none, and the current state answered as if it had been asked for."""
    if (refused := _unreadable(order_id)) is not None:
        return refused
    body, refused = api_runs.run_input()
    if refused is not None:
        return refused
    unknown = sorted(set(body) - set(REPLAY_KEYS))
    if unknown:
        return error(
            400,
            f"unknown keys {', '.join(map(repr, unknown))}: the body is"
            ' {"as_of": "<ISO time with an offset>"} or {"version": <n>} (or {} for now)',
        )
    path = wf.find_by_title(settings().workflows_dir, REPLAY_TITLE)
    if path is None:
        return error(404, "no Replay Events workflow: use the replay_events template first")
    workflow, refused = api_runs.load_workflow(path)
    if refused is not None:
        return refused
    data: dict[str, Any] = {"order_id": order_id}
    data.update((key, value) for key, value in body.items() if value is not None)
    # Checked before a run is accepted: a bad as_of or version is a 422, not a failed run.
    refused = api_runs.input_refused(workflow, data) or _unreal_as_of(data.get("as_of"))
    if refused is not None:
        return refused
    sub = bridge().call(runtime().submit(workflow, data, trigger="manual"))
    # Capped and bounded as any waiting request (it waited outside the cap).
    result = api_runs.wait_for_run(str(sub.execution_id))
    if isinstance(result, Response):
        return result
    return jresponse(
        {
            "execution_id": str(sub.execution_id),
            "status": result.get("status"),
            "output": result.get("output"),
            "error": result.get("error"),
        }
    )


def _unreal_as_of(as_of: Any) -> Response | None:
    """The 422 for an ``as_of`` of the right shape that is no real time (February 30,
    a leap second, a year past 9999 in UTC): input_schema's pattern passes it, and
    the run started failed at check_input. Read by check_input's own rule."""
    try:
        from templates.lib.order_inputs import read_as_of
    except ImportError:  # templates not installed: check_input still refuses it
        return None
    try:
        read_as_of(as_of)
    except ValueError as exc:
        problem = f"as_of: {str(exc).removeprefix('as_of ')}"
        return error(
            422, "the input does not match the workflow's input_schema", problems=[problem]
        )
    return None


@bp.get("/events/analytics")
def event_analytics() -> Response:
    queries = analytics_queries()
    out: dict[str, Any] = {}
    for name in CHART_QUERIES:
        if name not in queries:
            continue
        try:
            out[name] = _fetch(queries[name])
        except Exception as exc:
            if _store_missing(exc):
                return error(404, NOT_SET_UP)
            raise
    return jresponse(out)
