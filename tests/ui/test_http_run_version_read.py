"""Run… in the editor runs the workflow by name: with nothing unsaved it saved
nothing first, so a file changed on disk since the page loaded it (a `git pull`,
another tab's save) was the one that ran, while the page showed and coloured the
version it had loaded. A run asked with `If-Match` (the editor sends the version
it shows) starts only while the file is at that version; otherwise `412`, and no
run is recorded."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask.testing import FlaskClient

TEXT = """\
version: 1
name: {name}
blocks:
  start: {{type: manual}}
  add:
    type: function
    code: 'return {{"n": {n}}}'
edges: [start -> add]
"""


def test_a_run_of_the_version_read_is_refused_once_the_file_changed(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    name = f"run_read_{uuid.uuid4().hex[:8]}"
    path = workflows_dir / f"{name}.yaml"
    path.write_text(TEXT.format(name=name, n=1))
    try:
        etag = client.get(f"/api/workflows/{name}?format=json", headers=auth).headers["ETag"]
        ran = client.post(
            f"/api/workflows/{name}/runs?wait=1", json={}, headers={**auth, "If-Match": etag}
        )
        assert ran.status_code == 200 and ran.get_json()["output"] == {"n": 1}, ran.get_json()

        path.write_text(TEXT.format(name=name, n=2))  # a `git pull` lands
        stale = client.post(
            f"/api/workflows/{name}/runs", json={}, headers={**auth, "If-Match": etag}
        )
        assert stale.status_code == 412, stale.get_json()
        assert "changed since it was read" in stale.get_json()["error"]
        runs = client.get(f"/api/runs?workflow={name}", headers=auth).get_json()["runs"]
        assert len(runs) == 1  # nothing started

        # Without If-Match a run takes the file as it is, as before.
        now = client.post(f"/api/workflows/{name}/runs?wait=1", json={}, headers=auth)
        assert now.get_json()["output"] == {"n": 2}
    finally:
        path.unlink(missing_ok=True)
