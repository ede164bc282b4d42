"""Over HTTP: a resend of a delivery whose run retention pruned is a duplicate of
that run, and the run's status_url says it was pruned (`410`), not a bare `404`."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from engine.retention import prune
from ui.bridge import EngineBridge


def _prune_run(engine_bridge: EngineBridge, execution_id: str) -> None:
    """Make the run 31 days old, then prune as the default 30 d does."""
    pool = engine_bridge.runtime.db.log_pool
    age = (
        "UPDATE flowyard_runs SET finished_at = finished_at - interval '31 days',"
        " created_at = created_at - interval '31 days' WHERE execution_id = $1::uuid"
    )
    engine_bridge.call(pool.execute(age, execution_id))
    engine_bridge.call(prune(pool, 30 * 86400.0))


def test_a_pruned_runs_resend_is_a_duplicate_whose_status_url_says_pruned(
    client: FlaskClient, auth: dict[str, str], engine_bridge: EngineBridge
) -> None:
    key = {"Idempotency-Key": f"ret-{uuid.uuid4().hex}"}
    first = client.post("/webhooks/test/async", json={"order_id": 7}, headers=key)
    assert first.status_code == 202
    eid = first.get_json()["execution_id"]
    engine_bridge.call(engine_bridge.runtime.wait(eid, timeout=30))
    _prune_run(engine_bridge, eid)

    again = client.post("/webhooks/test/async", json={"order_id": 7}, headers=key)
    assert again.status_code == 202
    body = again.get_json()
    assert (body["execution_id"], body["duplicate"], body["pruned"]) == (eid, True, True)

    status = client.get(body["status_url"], headers=auth)
    assert status.status_code == 410
    said = status.get_json()
    assert said["pruned"] is True and "pruned by retention" in said["error"]
    assert said["pruned_at"]
    # A run that never was is still not found.
    assert client.get(f"/api/runs/{uuid.uuid4()}", headers=auth).status_code == 404
