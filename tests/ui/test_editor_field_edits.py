"""An edit inside one block rewrites only the fields it changed: the block's other
lines keep their text (flow-style lists, comments), so the diff is the edit alone."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]


def _changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def _save(client: FlaskClient, auth: dict[str, str], workflows_dir: Path, name: str, edit) -> str:
    """Save the shipped Replay Events (Agent) file edited by ``edit``, as the editor
    would (the whole document, as JSON); the file's text after the save."""
    path = workflows_dir / f"{name}.yaml"
    original = (ROOT / "templates" / "replay_events_agent" / "workflow.yaml").read_text()
    path.write_text(original)
    doc = yaml.safe_load(original)
    doc["name"] = name  # no clash with the installed template's name
    edit(doc)
    try:
        resp = client.put(f"/api/workflows/{name}", json=doc, headers=auth)
        assert resp.status_code == 200, resp.get_json()
        after = path.read_text()
    finally:
        path.unlink()
    assert yaml.safe_load(after) == doc
    return after


def test_a_field_added_to_a_block_keeps_its_flow_style_lists(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    original = (ROOT / "templates" / "replay_events_agent" / "workflow.yaml").read_text()
    assert "    body: [step_state, step_agent, step]\n" in original

    def edit(doc: dict) -> None:
        doc["blocks"]["fold"]["timeout"] = 500

    after = _save(client, auth, workflows_dir, "rt_fields", edit)
    changed = _changed_lines(original, after)
    assert changed[-1] == "+    timeout: 500"
    assert [c for c in changed if "name:" not in c][:-1] == []  # nothing else but the name


def test_a_changed_field_is_rewritten_alone(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    original = (ROOT / "templates" / "replay_events_agent" / "workflow.yaml").read_text()

    def edit(doc: dict) -> None:
        doc["blocks"]["fold"]["body"] = ["step", "step_agent", "step_state"]

    after = _save(client, auth, workflows_dir, "rt_fields_body", edit)
    changed = [c for c in _changed_lines(original, after) if "name:" not in c]
    # The field rewritten the canonical way, its list items indented as the file
    # indents its lists (`cases:`, `edges:`); the block's other fields untouched.
    assert changed == [
        "-    body: [step_state, step_agent, step]",
        "+    body:",
        "+      - step",
        "+      - step_agent",
        "+      - step_state",
    ]
