"""``GET /metrics``: Prometheus text (token required, like everything but webhooks)."""

from __future__ import annotations

from flask import Blueprint, Response

from engine.metrics import render
from ui.app import bridge

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    text = bridge().call(render(bridge().runtime), timeout=10)
    engine = bridge().engine_process  # serve --engine-process: its restarts
    if engine is not None:
        text += (
            "# HELP flowyard_engine_process_restarts_total Times this serve's engine"
            " process exited and was started again.\n"
            "# TYPE flowyard_engine_process_restarts_total counter\n"
            f"flowyard_engine_process_restarts_total {engine.restarts}\n"
            "# HELP flowyard_engine_process_up Whether the engine process is taking runs.\n"
            "# TYPE flowyard_engine_process_up gauge\n"
            f"flowyard_engine_process_up {int(engine.state == 'running')}\n"
        )
    return Response(text, mimetype="text/plain; version=0.0.4")
