"""A request whose wait for the engine ran out: an outage, or only slow work?

``EngineBridge.call`` gives up after its time limit (30 s). A database that refuses
fails a request at once (the 503 of ui/app.py), so one that runs out of time either
hangs or is answering something slow: reading a run of 29 MB took longer than 30 s
on a healthy database, and was answered `503 database unavailable` while
`/api/health` said ok. So the database is asked `SELECT 1`, as the health check asks
it: answered, the request is a `504` naming what took too long; not answered (or
known stalled, ui/db_watch.py), the `503` of an outage stands.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, render_template, request

from ui.app import bridge, db_watch
from ui.bridge import EngineTimeout

#: How long the database has to answer ``SELECT 1`` (as ``/api/health`` gives it).
PROBE_TIMEOUT_S = 3.0


def database_answers() -> bool:
    """Whether the database answers now (the pool the health check asks)."""
    if db_watch().stalled:  # known not to answer: no thread held asking it again
        return False
    try:
        bridge().call(bridge().runtime.db.pool.fetchval("SELECT 1"), PROBE_TIMEOUT_S)
    except Exception as exc:
        if isinstance(exc, TimeoutError):  # it hangs: have it watched (ui/db_watch.py)
            db_watch().suspect()
        return False
    return True


def too_slow(exc: EngineTimeout) -> Any:
    """The 504 for ``exc`` when the database answers; None when it does not (an outage)."""
    if not database_answers():
        return None
    said = str(exc)  # "reading the run took longer than 30 s"
    if request.path.startswith(("/api/", "/webhooks/")) or request.path == "/webhooks":
        reason = (
            "the database answers: this is not an outage, but the answer took too long"
            " to build (a very large run?); retrying will likely take as long"
        )
        return jsonify(error=said, reason=reason), 504
    if request.path == "/metrics":
        return f"# {said}\n", 504, {"Content-Type": "text/plain; version=0.0.4"}
    return render_template("error.html", status=504, message=f"{said[0].upper()}{said[1:]}."), 504
