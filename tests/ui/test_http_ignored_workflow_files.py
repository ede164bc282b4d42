"""A file the workflow list calls ignored (its name is no workflow name) is not
loaded: it served webhooks, even taking over another workflow's path, while the API
could not open, delete or run it (docs/api.md, `GET /api/workflows`)."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

from flask.testing import FlaskClient


def _sync_hook(folder: Path, stem: str, path: str, answer: str) -> Path:
    file = folder / f"{stem}.yaml"
    file.write_text(
        textwrap.dedent(f"""\
        version: 1
        name: {answer}
        blocks:
          hook: {{type: webhook, path: {path}, respond: sync}}
          say:
            type: function
            code: |
              return {{"from": "{answer}"}}
        edges: [hook -> say]
        """)
    )
    return file


def test_an_ignored_file_serves_no_webhook_not_even_another_workflows(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    shared, own = f"ignored/{tag}/shared", f"ignored/{tag}/own"
    # "Orders backup …" sorts before "orders_…": by file name it took the deliveries.
    backup = _sync_hook(workflows_dir, f"Orders backup {tag}", shared, f"backup_{tag}")
    real = _sync_hook(workflows_dir, f"orders_{tag}", shared, f"real_{tag}")
    alone = _sync_hook(workflows_dir, f"Only copy {tag}", own, f"alone_{tag}")
    try:
        listed = client.get("/api/workflows", headers=auth).get_json()
        assert backup.name in listed["ignored"] and alone.name in listed["ignored"]
        delivered = client.post(f"/webhooks/{shared}", json={})
        assert delivered.status_code == 200, delivered.get_data(as_text=True)
        assert delivered.get_json() == {"from": f"real_{tag}"}
        assert client.post(f"/webhooks/{own}", json={}).status_code == 404
        # Nor is it found by its `name:`, as the CLI and the runs API look names up.
        ran = client.post(f"/api/workflows/alone_{tag}/runs", headers=auth, json={})
        assert ran.status_code == 404, ran.get_data(as_text=True)
    finally:
        for file in (backup, real, alone):
            file.unlink()


def test_of_two_files_with_one_stem_the_list_says_the_one_everything_else_uses(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The list said `twin.json` while the API, webhooks and runs used `twin.yaml`."""
    stem = f"twin_{uuid.uuid4().hex[:8]}"
    yaml_file = _sync_hook(workflows_dir, stem, f"twins/{stem}", f"yaml_{stem}")
    json_file = workflows_dir / f"{stem}.json"
    json_file.write_text(
        f'{{"version": 1, "name": "json_{stem}", "blocks": {{"start": {{"type": "manual"}}}}}}'
    )
    try:
        listed = client.get("/api/workflows", headers=auth).get_json()
        [entry] = [w for w in listed["workflows"] if w["name"] == stem]
        assert (entry["file"], entry["title"]) == (yaml_file.name, f"yaml_{stem}")
        assert client.get(f"/api/workflows/{stem}", headers=auth).get_json()["name"] == (
            f"yaml_{stem}"
        )
        assert json_file.name in listed["ignored"]
        why = listed["ignored_why"][json_file.name]
        assert why.startswith(f"{yaml_file.name} is the workflow '{stem}', read before")
        page = client.get("/", headers=auth).get_data(as_text=True)
        assert f"<li>{json_file.name}: {yaml_file.name} is the workflow" in page.replace(
            "&#39;", "'"
        )
    finally:
        yaml_file.unlink()
        json_file.unlink()
