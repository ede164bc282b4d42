"""``GET /metrics``: Prometheus text (token required, like everything but webhooks)."""

from __future__ import annotations

from flask import Blueprint, Response

from engine.metrics import render
from ui.app import bridge

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    text = bridge().call(render(bridge().runtime), timeout=10)
    return Response(text, mimetype="text/plain; version=0.0.4")
