"""A run's `file` means one thing in the API: the name its workflow is addressed by
(`/api/workflows/<file>`), in the runs list and in one run alike — never the path
the run was started from, which for a webhook run was the server's absolute path.
Templates' paths are relative to the templates folder. Real engine and PostgreSQL.
"""

from __future__ import annotations

import textwrap
import time
import uuid
from pathlib import Path

from flask.testing import FlaskClient

import templates
from engine.workflows import load_file
from ui.bridge import EngineBridge


def _run_and_listed(client: FlaskClient, auth: dict[str, str], eid: str) -> tuple[dict, dict]:
    """One run as `GET /api/runs/<id>` answers it once it ended, and its row in the list."""
    deadline = time.monotonic() + 30
    one = client.get(f"/api/runs/{eid}", headers=auth).get_json()
    while one["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
        one = client.get(f"/api/runs/{eid}", headers=auth).get_json()
    runs = client.get(f"/api/runs?workflow={one['workflow']}&limit=500", headers=auth).get_json()
    return one, next(r for r in runs["runs"] if r["execution_id"] == eid)


def test_a_manual_run_and_a_webhook_run_say_their_file_as_the_list_does(
    client: FlaskClient, auth: dict[str, str], ui_workspace: Path
) -> None:
    manual = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()
    hook = client.post("/webhooks/test/async", json={"n": 1})
    assert hook.status_code == 202, hook.get_data(as_text=True)
    for eid, name in (
        (manual["execution_id"], "hello"),
        (hook.get_json()["execution_id"], "hooks"),
    ):
        one, listed = _run_and_listed(client, auth, eid)
        assert one["file"] == listed["file"] == name
        assert str(ui_workspace) not in client.get(f"/api/runs/{eid}", headers=auth).get_data(
            as_text=True
        )
        assert client.get(f"/api/workflows/{one['file']}", headers=auth).status_code == 200


def test_a_run_of_a_file_outside_the_workflows_folder_has_no_file(
    client: FlaskClient, auth: dict[str, str], engine_bridge: EngineBridge, tmp_path: Path
) -> None:
    """As `flowyard run /elsewhere/x.yaml` records it: a path the API does not serve."""
    name = f"elsewhere_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            blocks:
              start: {{type: manual}}
            """
        )
    )
    rt = engine_bridge.runtime
    result = engine_bridge.call(rt.execute(load_file(path), {}))
    one, listed = _run_and_listed(client, auth, result["execution_id"])
    assert one["file"] is None and listed["file"] is None
    assert str(tmp_path) not in client.get(
        f"/api/runs/{result['execution_id']}", headers=auth
    ).get_data(as_text=True)


def test_template_paths_are_relative_to_the_templates_folder(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    resp = client.get("/api/templates", headers=auth)
    listed = resp.get_json()["templates"]
    assert listed
    for t in listed:
        assert t["path"] == f"{t['id']}/workflow.yaml"
        assert (Path(templates.__file__).parent / t["path"]).is_file()
    assert str(Path(templates.__file__).parent) not in resp.get_data(as_text=True)
