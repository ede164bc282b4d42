"""`POST /api/workflows/<name>/runs?wait=1`: a bounded wait that cannot take every
server thread.

Without a bound, a wait for a run nobody executes (`serve --no-worker`, no worker up)
never ended, and sixteen of them held every thread: /api/health and webhooks stopped
answering. The limit is the sync webhook's (``ui.webhooks.SYNC_TIMEOUT_S``), made short
here; the runs waited for are held (no worker, or a gate file), so no answer depends
on how long anything takes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.ui.conftest import SECRET_KEY, TOKEN
from ui import long_requests, webhooks
from ui.app import UIConfig, create_app
from ui.bridge import EngineBridge


@pytest.fixture
def queue_only_client(
    ui_workspace: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FlaskClient]:
    """The app of `serve --no-worker` with no worker: runs are accepted, never run."""
    from engine.runtime import Runtime

    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")  # no other session's worker
    rt = Runtime(
        ui_workspace / "workflows", database_url, ui_workspace,
        function_workers=1, resume=False, queue=True, local=False,
    )  # fmt: skip
    bridge = EngineBridge(rt).start()
    try:
        cfg = UIConfig(bridge, TOKEN, SECRET_KEY, ui_workspace / "workflows")
        yield create_app(cfg).test_client()
    finally:
        bridge.stop()


def test_a_wait_nobody_runs_ends_in_504_with_the_runs_links(
    queue_only_client: FlaskClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhooks, "SYNC_TIMEOUT_S", 0.3)
    # One slot: had the first wait kept it, the second would be answered 202.
    slot = threading.BoundedSemaphore(1)
    monkeypatch.setattr(long_requests, "slots", lambda: slot)
    for _ in range(2):
        answer = queue_only_client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth)
        assert answer.status_code == 504, answer.get_json()
        body = answer.get_json()
        eid = body["execution_id"]
        assert body["status_url"] == f"/api/runs/{eid}"
        status = queue_only_client.get(body["status_url"], headers=auth).get_json()["status"]
        assert status == "queued"  # accepted, still waiting for a worker
        cancel = queue_only_client.post(f"/api/runs/{eid}/cancel", headers=auth)
        assert cancel.get_json()["status"] == "cancelled"


def test_waits_and_live_streams_share_half_the_threads(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the cap a `?wait=1` run is accepted and answered as without `wait`."""
    gate = workflows_dir / "wait_gate"
    (workflows_dir / "wait_held.yaml").write_text(
        "name: wait_held\nblocks:\n  start: {type: manual}\n  hold:\n    type: function\n"
        "    timeout: 60\n    code: |\n      import os, time\n"
        f"      while not os.path.exists({str(gate)!r}):\n          time.sleep(0.05)\n"
        "      return 1\nedges: [start -> hold]\n"
    )
    slot = threading.BoundedSemaphore(1)
    monkeypatch.setattr(long_requests, "slots", lambda: slot)
    try:
        started = client.post("/api/workflows/wait_held/runs", json={}, headers=auth)
        held_id = started.get_json()["execution_id"]
        stream = client.get(f"/api/runs/{held_id}/stream", headers=auth, buffered=False)
        assert "retry: 1000" in next(iter(stream.response)).decode()  # holds the one slot

        answer = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth)
        assert answer.status_code == 202, answer.get_json()
        eid = answer.get_json()["execution_id"]
        assert answer.get_json()["status_url"] == f"/api/runs/{eid}"

        stream.close()  # the slot is free again: the next one waits for its result
        answer = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth)
        assert answer.status_code == 200
        assert answer.get_json()["status"] == "succeeded"
    finally:
        gate.write_text("open")


def test_a_failed_run_is_answered_200_with_its_result(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """As docs/api.md says: the answer is the run result, whatever the run's status."""
    (workflows_dir / "wait_fails.yaml").write_text(
        "name: wait_fails\nblocks:\n  start: {type: manual}\n  boom:\n    type: function\n"
        "    code: |\n      raise ValueError('no')\nedges: [start -> boom]\n"
    )
    answer = client.post("/api/workflows/wait_fails/runs?wait=1", json={}, headers=auth)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.get_json()
    assert body["status"] == "failed"
    assert body["error"]["block"] == "boom"
    assert body["status_url"] == f"/api/runs/{body['execution_id']}"
