"""Saving the editor's document over a hand-written file keeps the file's own order
and header (docs/editor.md: "Key order is the file's", "moving a block changes its
layout line only"), but for `layout`, which a save keeps last (the SPEC). Moving one
block moved `version: 1` above the header comment (the top-level keys were written
in the canonical order) and wrote the one-line `layout: {…}` out one entry per line."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient

HAND_WRITTEN = """\
# hand-written
name: {name}
layout: {{start: [40, 80], add: [260, 80]}}
version: 1
blocks:
  start: {{type: manual}}
  add:
    type: function
    code: return 1
edges: [start -> add]
"""

BLOCK_LAYOUT = """\
# hand-written too
name: {name}
blocks:
  start: {{type: manual}}
  add:
    type: function
    code: return 1
edges: [start -> add]
layout:
  # the trigger, left
  start: [40, 80]
  add: [260, 80]   # next to it
"""


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def as_the_editor_sends(doc: dict[str, Any]) -> dict[str, Any]:
    """The editor's document (convert.js graphToDoc): the file's other keys in its
    order, then blocks, edges and layout."""
    rest = {k: v for k, v in doc.items() if k not in ("blocks", "edges", "layout")}
    return {**rest, "blocks": doc["blocks"], "edges": doc["edges"], "layout": doc["layout"]}


def save_moved(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, name: str, text: str
) -> tuple[str, str]:
    """The file's text before and after a save that moves block ``add``."""
    path = workflows_dir / f"{name}.yaml"
    original = text.format(name=name)
    path.write_text(original)
    try:
        doc = client.get(f"/api/workflows/{name}?format=json", headers=auth).get_json()
        doc["layout"]["add"] = [300, 90]
        resp = client.put(f"/api/workflows/{name}", json=as_the_editor_sends(doc), headers=auth)
        assert resp.status_code == 200, resp.get_json()
        after = path.read_text()
    finally:
        path.unlink()
    assert yaml.safe_load(after) == doc
    return original, after


def test_moving_a_block_in_a_hand_written_file_changes_its_layout_line_only(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    original, after = save_moved(client, auth, workflows_dir, "hand_moved", HAND_WRITTEN)
    assert changed_lines(original, after) == [
        "-layout: {start: [40, 80], add: [260, 80]}",
        "+layout: {start: [40, 80], add: [300, 90]}",
    ]
    # The one line, moved last (the SPEC: "keeps `layout` last"); the rest in place.
    assert after.startswith("# hand-written\nname: hand_moved\nversion: 1\n")
    assert after.endswith("edges: [start -> add]\nlayout: {start: [40, 80], add: [300, 90]}\n")


def test_moving_a_block_keeps_the_comments_between_layout_lines(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    original, after = save_moved(client, auth, workflows_dir, "hand_moved_block", BLOCK_LAYOUT)
    assert changed_lines(original, after) == [
        "-  add: [260, 80]   # next to it",
        "+  add: [300, 90]",
    ]


def test_a_key_the_file_lacks_goes_below_its_header_comment(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The editor adds `version: 1` to a file without it: in its place in the
    canonical order, never above the comment that opens the file."""
    name = "hand_no_version"
    path = workflows_dir / f"{name}.yaml"
    original = HAND_WRITTEN.format(name=name).replace("version: 1\n", "")
    path.write_text(original)
    try:
        doc = client.get(f"/api/workflows/{name}?format=json", headers=auth).get_json()
        sent = as_the_editor_sends({"version": 1, **doc})
        sent["description"] = "added"
        resp = client.put(f"/api/workflows/{name}", json=sent, headers=auth)
        assert resp.status_code == 200, resp.get_json()
        after = path.read_text()
    finally:
        path.unlink()
    assert changed_lines(original, after) == [
        "+version: 1",
        "-layout: {start: [40, 80], add: [260, 80]}",
        "+description: added",
        "+layout: {start: [40, 80], add: [260, 80]}",
    ]
    assert after.startswith("# hand-written\nversion: 1\nname: hand_no_version\ndescription:")


QUOTED_IDS = """\
# ids quoted, as some YAML tools write them
version: 1
name: {name}
blocks:
  "start":
    type: manual
  "add":
    type: function
    timeout: 5
    code: return 1
edges: [start -> add]
"""


def test_a_file_with_quoted_block_ids_is_not_saved_with_each_block_twice(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The patch did not know `"add":` for the block `add`: it kept those lines and
    wrote the blocks again below them, a file with every block id twice (which the
    next load reports as duplicate block ids). Such a file is written anew, and said."""
    from engine.strict_load import load_yaml

    name = "hand_quoted_ids"
    path = workflows_dir / f"{name}.yaml"
    path.write_text(QUOTED_IDS.format(name=name))
    try:
        doc = client.get(f"/api/workflows/{name}?format=json", headers=auth).get_json()
        doc["blocks"]["add"]["timeout"] = 9
        resp = client.put(f"/api/workflows/{name}", json=doc, headers=auth)
        assert resp.status_code == 200, resp.get_json()
        after = path.read_text()
    finally:
        path.unlink()
    loaded = load_yaml(after)
    assert [found.message for found in loaded.found] == []
    assert loaded.doc == doc
    [said] = resp.get_json()["warnings"]
    assert said["message"].startswith("the whole file was written anew the canonical way")
