"""`POST /api/runs/<id>/rerun`: the body read as every JSON body of the API, and only a
run that has ended is run again."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from processes import eventually


def _failed_run(client: FlaskClient, auth: dict[str, str], workflows_dir: Path) -> str:
    (workflows_dir / "rerun_fails.yaml").write_text(
        "name: rerun_fails\nblocks:\n  start: {type: manual}\n"
        "  one: {type: function, code: 'return {\"x\": 1}'}\n"
        "  two: {type: function, code: 'raise ValueError(\"no\")'}\n"
        "edges: [start -> one, one -> two]\n"
    )
    run = client.post("/api/workflows/rerun_fails/runs?wait=1", json={}, headers=auth)
    assert run.get_json()["status"] == "failed"
    return run.get_json()["execution_id"]


def test_a_body_sent_without_a_json_content_type_is_read(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # `curl -d '{"from_failed": false}'` (a form's Content-Type) was taken for no body:
    # the run was re-run from its failed block, reusing what the caller meant to redo.
    eid = _failed_run(client, auth, workflows_dir)
    again = client.post(f"/api/runs/{eid}/rerun", data='{"from_failed": false}', headers=auth)
    assert again.status_code == 202 and again.get_json()["from_failed"] is False
    rerun_id = again.get_json()["execution_id"]
    blocks = client.get(f"/api/runs/{rerun_id}", headers=auth).get_json()["blocks"]
    assert blocks["one"]["reused_from"] is None  # run again, not carried over


def test_a_succeeded_run_is_run_again_by_default(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # From its failed block, a run that succeeded had every block carried over: the
    # re-run ran nothing. The default for it is every block again.
    (workflows_dir / "rerun_succeeds.yaml").write_text(
        "name: rerun_succeeds\nblocks:\n  start: {type: manual}\n"
        "  one: {type: function, code: 'return {\"x\": 1}'}\n"
        "edges: [start -> one]\n"
    )
    run = client.post("/api/workflows/rerun_succeeds/runs?wait=1", json={}, headers=auth)
    assert run.get_json()["status"] == "succeeded"
    eid = run.get_json()["execution_id"]
    again = client.post(f"/api/runs/{eid}/rerun", json={}, headers=auth)
    assert again.status_code == 202 and again.get_json()["from_failed"] is False
    rerun = _ended(client, auth, again.get_json()["execution_id"])
    assert rerun["status"] == "succeeded"
    assert rerun["blocks"]["one"]["reused_from"] is None  # run again, not carried over
    # Asked for, from the failed block carries it over still (docs/api.md).
    copy = client.post(f"/api/runs/{eid}/rerun", json={"from_failed": True}, headers=auth)
    assert copy.status_code == 202 and copy.get_json()["from_failed"] is True
    copied = _ended(client, auth, copy.get_json()["execution_id"])
    assert copied["blocks"]["one"]["reused_from"] == eid


def test_a_failed_run_is_run_again_from_its_failed_block_by_default(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    eid = _failed_run(client, auth, workflows_dir)
    again = client.post(f"/api/runs/{eid}/rerun", json={}, headers=auth)
    assert again.status_code == 202 and again.get_json()["from_failed"] is True
    rerun = _ended(client, auth, again.get_json()["execution_id"])
    assert rerun["blocks"]["one"]["reused_from"] == eid


def test_a_body_that_is_not_json_is_400(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    eid = _failed_run(client, auth, workflows_dir)
    resp = client.post(f"/api/runs/{eid}/rerun", data="{bad", headers=auth)
    assert resp.status_code == 400 and "not JSON" in resp.get_json()["error"]


def test_a_run_that_has_not_ended_is_409(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    # Re-run beside it, its blocks (a payment capture) would act twice.
    gate = workflows_dir / "rerun_gate"
    (workflows_dir / "rerun_held.yaml").write_text(
        "name: rerun_held\nblocks:\n  start: {type: manual}\n  hold:\n    type: function\n"
        "    timeout: 60\n    code: |\n      import os, time\n"
        f"      while not os.path.exists({str(gate)!r}):\n          time.sleep(0.05)\n"
        "      return 1\nedges: [start -> hold]\n"
    )
    try:
        eid = client.post("/api/workflows/rerun_held/runs", json={}, headers=auth).get_json()[
            "execution_id"
        ]
        resp = client.post(f"/api/runs/{eid}/rerun", json={}, headers=auth)
        assert resp.status_code == 409, resp.get_json()
        assert resp.get_json()["status"] in ("queued", "running")
        # Nor is a run re-run while a re-run of it is unfinished (engine/rerun_guard.py).
        cancelled = client.post(f"/api/runs/{eid}/cancel", headers=auth)
        assert cancelled.status_code in (200, 202)
        assert eventually(
            lambda: client.get(f"/api/runs/{eid}", headers=auth).get_json()["status"] == "cancelled"
        )
        rerun = client.post(f"/api/runs/{eid}/rerun", json={}, headers=auth)
        assert rerun.status_code == 202, rerun.get_json()
        again = client.post(f"/api/runs/{eid}/rerun", json={}, headers=auth)
        assert again.status_code == 409, again.get_json()
        assert again.get_json()["execution_id"] == rerun.get_json()["execution_id"]
        assert "re-run once it has ended" in again.get_json()["error"]
    finally:
        gate.write_text("open")
    done = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth)
    assert done.status_code == 200


NAMES_ITS_RUN = """\
name: {name}
blocks:
  hook: {{type: webhook, path: rerun-http/{name}}}
  ident: {{type: function, code: "return {{'id': {expr}}}"}}
edges: [hook -> ident]
output: <ident.id>
"""


def test_a_delivery_whose_version_would_name_the_rerun_is_409_unless_asked(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    """A version that derives an id from <workflow.execution_id> and reads no
    <workflow.rerun_of> (stored before it existed, or before the file was edited)
    re-ran a delivery under a new id: Order Processing stored it as a second event."""
    name = "rerun_names_itself"
    path = scratch(name, NAMES_ITS_RUN.replace("{expr}", "<workflow.execution_id>"))
    delivery = client.post(f"/webhooks/rerun-http/{name}", json={"n": 1})
    assert delivery.status_code == 202
    eid = delivery.get_json()["execution_id"]
    assert _ended(client, auth, eid)["output"] == eid
    url = f"/api/runs/{eid}/rerun"

    refused = client.post(url, json={"from_failed": False}, headers=auth)
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert body["status"] == "succeeded"
    assert "block 'ident' reads <workflow.execution_id>" in body["error"]
    assert '{"current_version": true}' in body["error"]
    # The way out, as a body to send (the run page's button sends it).
    assert body["retry"] == {"from_failed": False, "current_version": True}
    [newest] = client.get(f"/api/runs?workflow={name}&limit=1", headers=auth).get_json()["runs"]
    assert newest["execution_id"] == eid  # nothing re-run

    edited = NAMES_ITS_RUN.replace("{expr}", "<workflow.rerun_of> or <workflow.execution_id>")
    path.write_text(edited.format(name=name))
    asked = client.post(url, json={"from_failed": False, "current_version": True}, headers=auth)
    assert asked.status_code == 202, asked.get_json()
    assert _ended(client, auth, asked.get_json()["execution_id"])["output"] == eid


def test_the_current_version_of_a_workflow_without_a_file_is_404(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    name = "rerun_file_gone"
    path = scratch(name, NAMES_ITS_RUN.replace("{expr}", "<workflow.execution_id>"))
    eid = client.post(f"/webhooks/rerun-http/{name}", json={}).get_json()["execution_id"]
    _ended(client, auth, eid)
    path.unlink()
    resp = client.post(f"/api/runs/{eid}/rerun", json={"current_version": True}, headers=auth)
    assert resp.status_code == 404 and name in resp.get_json()["error"]


def _ended(client: FlaskClient, auth: dict[str, str], eid: str) -> dict:
    """The run once it has ended (its record read back as a caller polls it)."""
    for _ in range(600):
        run = client.get(f"/api/runs/{eid}", headers=auth).get_json()
        if run["status"] in ("succeeded", "failed", "cancelled"):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {eid} did not end")


def test_a_stored_version_this_release_refuses_is_409_with_the_way_out(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, engine_bridge: Any
) -> None:
    """A run an earlier release accepted with a workflow this one refuses at
    validation (8e57f3c took a parallel branch named 'a[1]'): its re-run with that
    version was a 500 (the WorkflowError raised from the re-run, logged as a
    traceback). It is refused like a version that would name the re-run: the
    problem, and the body that re-runs it with the workflow as it is now."""
    eid = _failed_run(client, auth, workflows_dir)
    earlier = {
        "name": "rerun_fails",
        "blocks": {
            "start": {"type": "manual"},
            "fan": {"type": "parallel", "branches": {"a[1]": ["one"]}},
            "one": {"type": "function", "code": 'return {"x": 1}'},
        },
        "edges": ["start -> fan"],
    }
    version = f"earlier-{uuid.uuid4().hex}"
    pool = engine_bridge.runtime.db.log_pool
    engine_bridge.call(
        pool.execute(
            "INSERT INTO flowyard_workflow_versions (hash, name, file, source)"
            " VALUES ($1, 'rerun_fails', 'rerun_fails', $2)",
            version,
            earlier,
        )
    )
    engine_bridge.call(
        pool.execute(
            "UPDATE flowyard_runs SET workflow_hash = $2 WHERE execution_id = $1::uuid",
            eid,
            version,
        )
    )

    refused = client.post(f"/api/runs/{eid}/rerun", json={}, headers=auth)
    assert refused.status_code == 409, refused.get_data(as_text=True)
    body = refused.get_json()
    assert body["status"] == "failed"
    assert "branch name 'a[1]'" in body["error"]
    assert '{"current_version": true}' in body["error"]
    assert body["retry"] == {"from_failed": True, "current_version": True}
    [newest] = client.get("/api/runs?workflow=rerun_fails&limit=1", headers=auth).get_json()["runs"]
    assert newest["execution_id"] == eid  # nothing re-run

    asked = client.post(f"/api/runs/{eid}/rerun", json=body["retry"], headers=auth)
    assert asked.status_code == 202, asked.get_json()
