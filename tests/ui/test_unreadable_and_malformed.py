"""A workflow file that is not UTF-8, a malformed body, a bad `wait` or an unknown run
page: a 4xx with a reason, never a 500 or a silently different action."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize("accept", ["application/json", "application/yaml"])
def test_a_workflow_file_that_is_not_utf8_reads_as_422_and_can_be_saved_over(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, accept: str
) -> None:
    name = f"latin1_{uuid.uuid4().hex[:8]}"
    path = workflows_dir / f"{name}.yaml"
    path.write_bytes(b"name: caf\xe9\nblocks:\n  start: {type: manual}\n")
    resp = client.get(f"/api/workflows/{name}", headers={**auth, "Accept": accept})
    assert resp.status_code == 422, resp.get_data(as_text=True)  # was a 500
    assert "not UTF-8 text (byte 9)" in resp.get_json()["problems"][0]["message"]
    fixed = f"name: café {name}\nblocks:\n  start: {{type: manual}}\n"
    headers = {**auth, "Content-Type": "application/yaml", "If-Match": resp.headers["ETag"]}
    saved = client.put(f"/api/workflows/{name}", data=fixed.encode(), headers=headers)
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert path.read_text(encoding="utf-8") == fixed


def test_instantiate_with_malformed_json_is_400_and_copies_nothing(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    before = sorted(p.name for p in workflows_dir.iterdir())
    resp = client.post(
        "/api/templates/order_processing_agent/instantiate",
        data='{"name": "agent_x", oops',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert resp.status_code == 400, resp.get_data(as_text=True)  # was 201, default name
    assert "not JSON" in resp.get_json()["error"]
    # curl -d sends it form-typed: it was a form field named '{"name": …', then a 409.
    form_typed = client.post(
        "/api/templates/order_processing_agent/instantiate",
        data='{"name": "agent_x", oops',
        headers={**auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form_typed.status_code == 400, form_typed.get_data(as_text=True)
    assert sorted(p.name for p in workflows_dir.iterdir()) == before


def test_a_wait_that_is_neither_yes_nor_no_is_400(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = f"waits_{uuid.uuid4().hex[:8]}"
    (workflows_dir / f"{name}.yaml").write_text("name: w\nblocks:\n  start: {type: manual}\n")
    resp = client.post(f"/api/workflows/{name}/runs?wait=abc", json={}, headers=auth)
    assert resp.status_code == 400 and "wait" in resp.get_json()["error"]
    assert (
        client.post(f"/api/workflows/{name}/runs?wait=TRUE", json={}, headers=auth).status_code
        == 200
    )


def test_the_page_of_an_unknown_run_is_404(client: FlaskClient, auth: dict[str, str]) -> None:
    assert client.get(f"/runs/{uuid.uuid4()}", headers=auth).status_code == 404
    assert client.get("/runs/not-a-run", headers=auth).status_code == 404
