"""`POST /api/runs/<id>/cancel`: stop a run (202), idempotent once it is cancelled
(200), 409 for a run that had already ended otherwise, 404 for no run."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from flask.testing import FlaskClient

HELD = """
name: {name}
blocks:
  start: {{type: manual}}
  hold:
    type: function
    timeout: 120
    code: |
      import os, time
      open({started!r}, "w").close()
      while not os.path.exists({gate!r}):
          time.sleep(0.05)
      return {{}}
edges: [start -> hold]
"""


def _wait_for(check, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_cancel_a_running_run(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, tmp_path: Path
) -> None:
    name = f"cancel_api_{uuid.uuid4().hex[:6]}"
    started, gate = tmp_path / "started", tmp_path / "gate"
    path = workflows_dir / f"{name}.yaml"
    path.write_text(HELD.format(name=name, started=str(started), gate=str(gate)))
    try:
        resp = client.post(f"/api/workflows/{name}/runs", json={}, headers=auth)
        assert resp.status_code == 202, resp.get_json()
        eid = resp.get_json()["execution_id"]
        assert _wait_for(started.exists)
        resp = client.post(f"/api/runs/{eid}/cancel", headers=auth)
        assert resp.status_code == 202 and resp.get_json()["status"] == "cancelling"

        def cancelled() -> bool:
            run = client.get(f"/api/runs/{eid}", headers=auth).get_json()
            return run["status"] == "cancelled"

        assert _wait_for(cancelled)
        again = client.post(f"/api/runs/{eid}/cancel", headers=auth)
        assert again.status_code == 200 and again.get_json()["status"] == "cancelled"
        # The id spelt in upper case is the same run, answered as every answer spells it.
        upper = client.post(f"/api/runs/{eid.upper()}/cancel", headers=auth).get_json()
        assert upper["execution_id"] == eid and upper["status_url"] == f"/api/runs/{eid}"
    finally:
        gate.write_text("open")
        path.unlink()


def test_cancel_an_ended_or_unknown_run(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = f"cancel_done_{uuid.uuid4().hex[:6]}"
    path = workflows_dir / f"{name}.yaml"
    path.write_text(f"name: {name}\nblocks:\n  s: {{type: manual}}\n")
    try:
        done = client.post(f"/api/workflows/{name}/runs?wait=1", json={}, headers=auth)
        eid = done.get_json()["execution_id"]
    finally:
        path.unlink()
    resp = client.post(f"/api/runs/{eid}/cancel", headers=auth)
    assert resp.status_code == 409 and resp.get_json()["status"] == "succeeded"
    assert client.post(f"/api/runs/{uuid.uuid4()}/cancel", headers=auth).status_code == 404
    assert client.post("/api/runs/not-a-run/cancel", headers=auth).status_code == 404
    assert client.post(f"/api/runs/{eid}/cancel").status_code == 401  # the token is needed
