"""`serve --engine-process`: `/api/health` and `/metrics` say when its engine process
is gone. An engine process that could not start again (it kept exiting) left every
accepted run queued and nothing executing them, while health answered `{"status":
"ok", "database": "ok"}` and /metrics had nothing to alert on.

A real engine process (ui/engine_process.py) reaching PostgreSQL through a relay the
test cuts, reported by the server the `client` fixture serves; its own database, which
the health check asks, stays up.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from processes import eventually

from ui.bridge import EngineBridge
from ui.engine_process import EngineProcess

ROOT = Path(__file__).resolve().parent.parent.parent


def test_health_and_metrics_say_the_engine_process_is_gone(
    relayed_url: tuple[str, str, Any],
    tmp_path: Path,
    client: FlaskClient,
    auth: dict[str, str],
    engine_bridge: EngineBridge,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)  # `python -m ui.cli` finds the package from here
    _direct, through, relay = relayed_url
    (tmp_path / "workflows").mkdir()
    engine = EngineProcess(tmp_path / "workflows", tmp_path, through)
    engine.start()
    monkeypatch.setattr(engine_bridge, "engine_process", engine)
    try:
        health = client.get("/api/health")
        assert health.status_code == 200
        assert health.get_json() == {"status": "ok", "database": "ok", "engine_process": "running"}
        assert "flowyard_engine_process_up 1" in client.get("/metrics", headers=auth).text

        relay.cut()  # its database goes away: it cannot start again
        assert engine._proc is not None
        os.kill(engine._proc.pid, signal.SIGKILL)

        def gone() -> bool:
            return client.get("/api/health").get_json().get("engine_process") == "restarting"

        assert eventually(gone), client.get("/api/health").get_json()
        health = client.get("/api/health")
        # This process's database answers: still 200 (it accepts runs, durably).
        assert health.status_code == 200 and health.get_json()["database"] == "ok"
        metrics = client.get("/metrics", headers=auth).text
        assert "flowyard_engine_process_up 0" in metrics
        assert "flowyard_engine_process_restarts_total 1" in metrics
        assert "# TYPE flowyard_engine_process_restarts_total counter" in metrics

        relay.restore()
        assert eventually(lambda: engine.state == "running")
        assert client.get("/api/health").get_json()["engine_process"] == "running"
    finally:
        engine.stop()
