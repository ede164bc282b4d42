"""A workflow file that parses but does not load (a typo pulled from git while
serving: an unknown block type, an edge to a missing block) was listed like any
other on `/` and in `GET /api/workflows`, while its webhooks answered 503 and its
schedules stopped: nothing on the list said the workflow was down. It is now marked
invalid there with its first problem, until the file is fixed."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

GOOD = """\
version: 1
name: list_invalid
blocks:
  start: {type: manual}
  add: {type: function, code: return 1}
edges: [start -> add]
"""


def _listed(client: FlaskClient, auth: dict[str, str]) -> dict[str, object]:
    items = client.get("/api/workflows", headers=auth).get_json()["workflows"]
    return next(item for item in items if item["name"] == "list_invalid")


def test_a_file_that_does_not_load_is_marked_invalid_in_the_list_until_fixed(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    path = workflows_dir / "list_invalid.yaml"
    path.write_text(GOOD.replace("type: function", "type: functoin"))
    try:
        item = _listed(client, auth)
        assert "unknown block type" in str(item["invalid"]) and "add" in str(item["invalid"])
        assert "broken" not in item  # it parses: its text opens in the editor
        page = client.get("/", headers=auth).get_data(as_text=True)
        assert 'class="badge failed" title="' in page and ">invalid</span>" in page

        path.write_text(GOOD)
        assert "invalid" not in _listed(client, auth)
        assert ">invalid</span>" not in client.get("/", headers=auth).get_data(as_text=True)
    finally:
        path.unlink(missing_ok=True)
