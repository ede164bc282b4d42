"""API routes while PostgreSQL cannot be reached: `503` with a JSON error and
`Retry-After`, as webhooks and `/api/health` answer then, not a `500` that reads as
a bug; once it is back, the same requests are answered again.

The runtime reaches PostgreSQL through the tests' TCP relay (`relayed_url`), cut as
a stopped server or a broken network would; the app is served by the waitress
server `flowyard serve` builds.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ui.app import UIConfig, create_app
from ui.bridge import EngineBridge
from ui.server import make_server

TOKEN = "t" * 20
MANUAL = """\
version: 1
name: api_db_down
blocks:
  start: {type: manual}
  noop:
    type: function
    code: |
      return {"ok": True}
edges: [start -> noop]
"""


@pytest.fixture
def served(relayed_url: tuple[str, str, Any], tmp_path: Path) -> Iterator[str]:
    import blocks  # noqa: F401
    from engine.runtime import Runtime

    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "api_db_down.yaml").write_text(MANUAL)
    rt = Runtime(tmp_path / "workflows", relayed_url[1], tmp_path, function_workers=1, resume=False)
    bridge = EngineBridge(rt).start()
    cfg = UIConfig(bridge, TOKEN, "k" * 20, tmp_path / "workflows", max_body=1024 * 1024)
    server = make_server(create_app(cfg), "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-test", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        bridge.stop()


def test_api_routes_answer_503_with_retry_after_while_the_database_is_down(
    served: str, relayed_url: tuple[str, str, Any]
) -> None:
    relay = relayed_url[2]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    requests = [
        ("GET", "/api/runs", None),
        ("GET", f"/api/runs/{uuid.uuid4()}", None),
        ("POST", "/api/workflows/api_db_down/runs", {}),
    ]
    relay.cut()
    for method, path, body in requests * 2:  # pooled connections dropped, then refused
        resp = httpx.request(method, served + path, json=body, headers=auth, timeout=60)
        assert resp.status_code == 503, (path, resp.status_code, resp.text)
        assert resp.json()["error"] == "database unavailable"
        assert int(resp.headers["Retry-After"]) > 0
        assert resp.headers["Cache-Control"] == "no-store"  # still an API response
    relay.restore()
    assert httpx.get(served + "/api/runs", headers=auth, timeout=60).status_code == 200


def test_metrics_while_the_database_is_down_is_a_503_in_prometheus_text(
    served: str, relayed_url: tuple[str, str, Any]
) -> None:
    """`/metrics` answered the pages' HTML error page: a scraper reads text/plain."""
    relay = relayed_url[2]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    relay.cut()
    for _ in range(2):  # pooled connections dropped, then refused
        resp = httpx.get(served + "/metrics", headers=auth, timeout=60)
        assert resp.status_code == 503, resp.text
        assert resp.headers["Content-Type"].startswith("text/plain"), resp.headers
        assert resp.text == "# the database cannot be reached; retry later\n"
        assert int(resp.headers["Retry-After"]) > 0
    relay.restore()
    back = httpx.get(served + "/metrics", headers=auth, timeout=60)
    assert back.status_code == 200 and back.headers["Content-Type"].startswith("text/plain")


def test_an_error_that_is_not_an_outage_stays_a_500(tmp_path: Path) -> None:
    # The handler sees every exception; a bug must keep Flask's 500 (and its logged
    # traceback), not pass for an outage. A ValueError and a KeyError are no outage.
    app = create_app(UIConfig(None, TOKEN, "k" * 20, tmp_path))  # type: ignore[arg-type]

    def boom() -> str:
        raise ValueError("a bug")

    app.add_url_rule("/api/boom", view_func=boom)
    resp = app.test_client().get("/api/boom", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 500 and "Retry-After" not in resp.headers
    assert resp.get_json()["error"] == "internal server error"


def test_a_webhook_path_that_meets_an_outage_answers_json_never_a_page(tmp_path: Path) -> None:
    """A delivery that reached the outage handler got the pages' HTML 503 (with a
    CSRF token): a webhook sender reads JSON, as on /api/."""
    app = create_app(UIConfig(None, TOKEN, "k" * 20, tmp_path))  # type: ignore[arg-type]

    def down() -> str:
        raise ConnectionRefusedError("the database is stopped")

    app.add_url_rule("/webhooks/down/here", view_func=down, methods=["POST"])
    resp = app.test_client().post("/webhooks/down/here", json={})
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert resp.content_type == "application/json", resp.get_data(as_text=True)
    assert resp.get_json()["error"] == "database unavailable"


def test_a_load_balancer_probing_health_through_an_outage_gets_one_log_line(
    served: str, relayed_url: tuple[str, str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Each probe answered `503 degraded` logged a WARNING: a load balancer probing
    every 2 s wrote 1,800 identical lines an hour of outage. Now once (and again at
    most once a minute), and once when the database answers again."""
    caplog.set_level(logging.INFO, logger="flowyard.ui")
    relay = relayed_url[2]
    relay.cut()
    for _ in range(10):
        assert httpx.get(served + "/api/health", timeout=60).status_code == 503
    said = [r for r in caplog.records if r.getMessage().startswith("the health check")]
    assert len(said) == 1, [r.getMessage() for r in said]
    assert said[0].levelno == logging.ERROR and "database cannot be reached" in said[0].getMessage()
    relay.restore()
    assert httpx.get(served + "/api/health", timeout=60).status_code == 200
    again = [r for r in caplog.records if r.getMessage().startswith("the health check works")]
    assert len(again) == 1 and again[0].levelno == logging.INFO
