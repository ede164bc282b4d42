"""Saving through `PUT /api/workflows/<name>` the way the editor does (the JSON
document `GET` returned, possibly edited): an unchanged save leaves the file
byte-identical, comments included; an edit rewrites only what it changed.
(SPEC: "Saving from the editor writes YAML with stable key order and block
order, and keeps `layout` last, so a diff shows the logic change alone".)
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "templates").glob("*/workflow.yaml"))

COMMENTED = """\
# A hand-written workflow: the comments are the team's notes.
version: 1
name: commented
blocks:
  start:
    type: manual  # the form in the editor
  # Doubles the number; see the ticket.
  double:
    type: function
    timeout: 5
    code: |
      return {"n": 2}   # two
  check:
    type: condition
    if: <double.n> == 2
edges:
  - start -> double
  - double -> check
layout: {start: [40, 80], double: [260, 80]}
"""


@pytest.fixture(autouse=True)
def _cleanup(workflows_dir: Path) -> Iterator[None]:
    # The workspace is shared: template copies would add a second workflow
    # with the template's title and webhook path for the tests that follow.
    yield
    for path in workflows_dir.glob("rt_*.yaml"):
        path.unlink()


def _get(client: FlaskClient, auth: dict[str, str], name: str) -> dict[str, Any]:
    resp = client.get(f"/api/workflows/{name}?format=json", headers=auth)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _put(client: FlaskClient, auth: dict[str, str], name: str, doc: dict[str, Any]) -> None:
    resp = client.put(f"/api/workflows/{name}", json=doc, headers=auth)
    assert resp.status_code in (200, 201), resp.get_json()


def _changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


@pytest.mark.parametrize("template", SHIPPED, ids=lambda p: p.parent.name)
def test_unchanged_save_of_a_shipped_template_is_byte_identical(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, template: Path
) -> None:
    name = f"rt_{template.parent.name}"
    original = template.read_text(encoding="utf-8")
    (workflows_dir / f"{name}.yaml").write_text(original, encoding="utf-8")
    _put(client, auth, name, _get(client, auth, name))
    assert (workflows_dir / f"{name}.yaml").read_text(encoding="utf-8") == original


def test_unchanged_save_keeps_comments_and_flow_style(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    (workflows_dir / "rt_commented.yaml").write_text(COMMENTED)
    _put(client, auth, "rt_commented", _get(client, auth, "rt_commented"))
    assert (workflows_dir / "rt_commented.yaml").read_text() == COMMENTED


def test_a_config_edit_touches_only_that_blocks_lines(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    path = workflows_dir / "rt_edit.yaml"
    original = (ROOT / "templates" / "order_processing" / "workflow.yaml").read_text()
    path.write_text(original)
    doc = _get(client, auth, "rt_edit")
    doc["blocks"]["capture"]["retries"] = 5
    _put(client, auth, "rt_edit", doc)
    after = path.read_text()
    assert _changed_lines(original, after) == ["-    retries: 3", "+    retries: 5"]
    # The comments elsewhere (and the one right above the edited block) survive.
    assert "# 8. The Idempotency-Key is the stored event's id" in after
    assert "# One order's events run one at a time" in after
    assert yaml.safe_load(after) == doc


def test_an_edit_sent_with_its_keys_in_another_order_changes_only_the_edit(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A client building the JSON from its own dicts sends keys in its own order:
    the save followed it (`code` moved below `on_error`, layout reordered)."""
    path = workflows_dir / "rt_reordered.yaml"
    original = (ROOT / "templates" / "order_processing" / "workflow.yaml").read_text()
    path.write_text(original)
    doc = _get(client, auth, "rt_reordered")

    def reversed_keys(d: dict[str, Any]) -> dict[str, Any]:
        return dict(reversed(list(d.items())))

    doc["blocks"] = reversed_keys({k: reversed_keys(b) for k, b in doc["blocks"].items()})
    doc["layout"] = reversed_keys(doc["layout"])
    doc["blocks"]["capture"]["retries"] = 5
    doc["layout"]["new_note"] = [10, 10]
    doc["blocks"]["new_note"] = {"on_error": "continue", "type": "function", "code": "return 1"}
    doc["edges"].append("result -> new_note")
    _put(client, auth, "rt_reordered", reversed_keys(doc))
    after = path.read_text()
    changed = _changed_lines(original, after)
    assert [c for c in changed if not c.startswith("+")] == ["-    retries: 3"]
    assert "+    retries: 5" in changed
    saved = yaml.safe_load(after)
    # A new key goes after the one the client sent before it (here the last, webhook).
    assert list(saved["blocks"])[:2] == ["webhook", "new_note"] and list(saved)[-1] == "layout"
    assert list(saved["blocks"]["new_note"]) == ["type", "on_error", "code"]
    assert list(saved["layout"])[:2] == ["webhook", "new_note"]


def test_moving_a_block_changes_only_its_layout_line(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    path = workflows_dir / "rt_move.yaml"
    original = (ROOT / "templates" / "order_processing" / "workflow.yaml").read_text()
    path.write_text(original)
    doc = _get(client, auth, "rt_move")
    doc["layout"]["route"] = [520, 210]
    _put(client, auth, "rt_move", doc)
    after = path.read_text()
    assert _changed_lines(original, after) == ["-  route: [500, 200]", "+  route: [520, 210]"]
    assert list(yaml.safe_load(after))[-1] == "layout"


def test_edit_in_a_commented_file_keeps_other_blocks_and_key_order(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    path = workflows_dir / "rt_commented_edit.yaml"
    path.write_text(COMMENTED)
    doc = _get(client, auth, "rt_commented_edit")
    edited = copy.deepcopy(doc)
    edited["blocks"]["double"]["timeout"] = 9
    # A new block and edge, as the editor adds them: appended, layout stays last.
    edited["blocks"]["done"] = {"type": "function", "code": "return {}"}
    edited["edges"].append("check.true -> done")
    edited["layout"]["done"] = [480, 80]
    _put(client, auth, "rt_commented_edit", edited)
    after = path.read_text()
    loaded = yaml.safe_load(after)
    assert loaded == edited
    assert list(loaded) == ["version", "name", "blocks", "edges", "layout"]
    assert list(loaded["blocks"]) == ["start", "double", "check", "done"]
    assert list(loaded["blocks"]["double"]) == ["type", "timeout", "code"]
    # Unchanged blocks keep their text, comments included; the edited block's
    # own comment line above it is kept too (it is not inside the block).
    assert "    type: manual  # the form in the editor\n" in after
    assert "  # Doubles the number; see the ticket.\n  double:\n" in after
    assert after.startswith("# A hand-written workflow")


RENAMED = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  # explains what old does
  old:
    type: function
    timeout: 5  # five seconds is enough
    code: |
      return {{"x": 1}}
  after:
    type: function
    code: |
      return {{}}
edges:
  - start -> old
  - old -> after
"""


def _renamed(doc: dict[str, Any], was: str, now: str) -> dict[str, Any]:
    """``doc`` with block ``was`` named ``now`` in its place, edges following."""
    out = copy.deepcopy(doc)
    out["blocks"] = {(now if k == was else k): v for k, v in out["blocks"].items()}
    out["edges"] = [e.replace(was, now) for e in out["edges"]]
    return out


def test_a_renamed_block_keeps_its_comments(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The same block under a new key: the comment above it and its fields' inline
    comments stay, so the diff is the rename alone (they were dropped)."""
    path = workflows_dir / "rt_rename.yaml"
    original = RENAMED.format(name="rt_rename")
    path.write_text(original)
    _put(client, auth, "rt_rename", _renamed(_get(client, auth, "rt_rename"), "old", "renamed"))
    assert _changed_lines(original, path.read_text()) == [
        "-  old:",
        "+  renamed:",
        "-  - start -> old",
        "-  - old -> after",
        "+  - start -> renamed",
        "+  - renamed -> after",
    ]


def test_a_block_renamed_and_edited_in_one_save_keeps_its_comments(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """The editor renames in place: a field edited in the same save is rewritten
    alone, the comments above the block and on its other fields stay."""
    path = workflows_dir / "rt_rename_edit.yaml"
    path.write_text(RENAMED.format(name="rt_rename_edit"))
    doc = _renamed(_get(client, auth, "rt_rename_edit"), "old", "renamed")
    doc["blocks"]["renamed"]["code"] = 'return {"x": 2}\n'
    _put(client, auth, "rt_rename_edit", doc)
    after = path.read_text()
    assert "  # explains what old does\n  renamed:\n" in after
    assert "    timeout: 5  # five seconds is enough\n" in after
    assert yaml.safe_load(after) == doc


def test_a_renamed_block_sent_last_keeps_its_comments_where_the_client_put_it(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A JSON client that pops the old key and adds the new one at the end."""
    path = workflows_dir / "rt_rename_last.yaml"
    path.write_text(RENAMED.format(name="rt_rename_last"))
    doc = _renamed(_get(client, auth, "rt_rename_last"), "old", "renamed")
    doc["blocks"]["renamed"] = doc["blocks"].pop("renamed")
    _put(client, auth, "rt_rename_last", doc)
    after = path.read_text()
    assert list(yaml.safe_load(after)["blocks"]) == ["start", "after", "renamed"]
    assert "  # explains what old does\n  renamed:\n" in after
    assert "    timeout: 5  # five seconds is enough\n" in after


def test_a_deleted_block_does_not_lend_its_comments_to_a_new_one(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """Another block of the same type added at the end is no rename of one deleted
    elsewhere: the deleted block's notes go with it."""
    path = workflows_dir / "rt_rename_not.yaml"
    path.write_text(RENAMED.format(name="rt_rename_not"))
    doc = _get(client, auth, "rt_rename_not")
    del doc["blocks"]["old"]
    doc["blocks"]["fresh"] = {"type": "function", "timeout": 5, "code": "return {}"}
    doc["edges"] = ["start -> after", "after -> fresh"]
    _put(client, auth, "rt_rename_not", doc)
    after = path.read_text()
    assert "explains what old does" not in after and "five seconds" not in after
    assert yaml.safe_load(after) == doc


def test_the_editor_forms_follow_the_published_schema(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    # The properties panel builds each block's form from /api/block-types: its
    # fields must be exactly the published docs/workflow.schema.json's.
    import json

    published = json.loads((ROOT / "docs" / "workflow.schema.json").read_text())
    data = client.get("/api/block-types", headers=auth).get_json()
    assert sorted(data["block_types"]) == sorted(
        published["$defs"]["block"]["properties"]["type"]["enum"]
    )
    for name, info in data["block_types"].items():
        props = dict(published["$defs"][name]["properties"])
        props.pop("type")
        assert {**info["config_schema"], **data["common"]} == props, name
        assert ["type", *info["required"]] == published["$defs"][name]["required"], name
    assert client.get("/api/schema", headers=auth).get_json() == published


def test_an_edit_of_a_crlf_file_writes_its_lines_with_crlf(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A file kept with Windows line endings (a repository storing CRLF): the lines a
    save wrote ended in LF alone, so the file mixed both and its diff showed every
    rewritten line's ending changed besides the edit."""
    path = workflows_dir / "rt_crlf.yaml"
    original = COMMENTED.replace("\n", "\r\n").encode()
    path.write_bytes(original)
    doc = _get(client, auth, "rt_crlf")
    doc["blocks"]["double"]["timeout"] = 9
    doc["blocks"]["done"] = {"type": "function", "code": "x = 1\nreturn {}\n"}
    doc["edges"].append("check.true -> done")
    _put(client, auth, "rt_crlf", doc)
    after = path.read_bytes()
    assert after.count(b"\n") == after.count(b"\r\n")
    assert _changed_lines(original.decode(), after.decode()) == [
        "-    timeout: 5",
        "+    timeout: 9",
        "+  done:",
        "+    type: function",
        "+    code: |",
        "+      x = 1",
        "+      return {}",
        "+  - check.true -> done",
    ]
    assert yaml.safe_load(after) == doc


def test_code_with_blank_lines_and_trailing_blanks_is_saved_as_its_own_lines(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """Code as a text area holds it — a blank line keeping its indentation, a line's
    trailing blanks, blank lines at the end — was written as one double-quoted line
    ("if n:\\n    m = 1\\n    \\n…"), or, ending in blank lines, ended the YAML
    document mid-file (`...`), so the whole file was rewritten without its comments."""
    path = workflows_dir / "rt_code_blanks.yaml"
    path.write_text(COMMENTED)
    doc = _get(client, auth, "rt_code_blanks")
    code = 'n = 2   \nif n:\n    m = 1\n    \nreturn {"n": n}\n\n\n'
    doc["blocks"]["double"]["code"] = code
    resp = client.put("/api/workflows/rt_code_blanks", json=doc, headers=auth)
    assert resp.status_code == 200 and "warnings" not in resp.get_json(), resp.get_json()
    after = path.read_text()
    assert _changed_lines(COMMENTED, after) == [
        "-    code: |",
        '-      return {"n": 2}   # two',
        "+    code: |+",
        "+      n = 2   ",
        "+      if n:",
        "+          m = 1",
        "+          ",
        '+      return {"n": n}',
        "+",
        "+",
    ]
    assert _get(client, auth, "rt_code_blanks")["blocks"]["double"]["code"] == code


def test_an_edit_of_a_file_starting_with_a_byte_order_mark_keeps_its_text(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A file saved by Windows Notepad or PowerShell starts with a UTF-8 byte order
    mark: its first key was not found after it, and every save wrote the whole file
    anew, comments gone ("its layout could not be followed")."""
    path = workflows_dir / "rt_bom.yaml"
    original = COMMENTED.split("\n", 1)[1]  # starting with `version: 1`, right after the mark
    path.write_text("\ufeff" + original, encoding="utf-8")
    doc = _get(client, auth, "rt_bom")
    doc["blocks"]["double"]["timeout"] = 9
    resp = client.put("/api/workflows/rt_bom", json=doc, headers=auth)
    assert resp.status_code == 200 and "warnings" not in resp.get_json(), resp.get_json()
    after = path.read_text(encoding="utf-8")
    assert after.startswith("\ufeffversion: 1\n")
    assert _changed_lines(original, after[1:]) == ["-    timeout: 5", "+    timeout: 9"]


TYPED = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  par:
    type: parallel
    branches: {{a: [fa], b: [fb]}}
  fa:
    type: function
    code: return 1
  fb:
    type: function
    code: return 2
  call:
    type: http
    method: POST
    url: http://127.0.0.1:9/x
    json: {{notify: 0, sign: true, b: 1, "10": 2}}
edges:
  - start -> par
  - par -> call
"""


def _saved(client: FlaskClient, auth: dict[str, str], name: str, doc: dict[str, Any]) -> Any:
    resp = client.put(f"/api/workflows/{name}", json=doc, headers=auth)
    assert resp.status_code == 200, resp.get_json()
    return _get(client, auth, name)


def test_an_edit_from_a_number_to_a_boolean_is_saved(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """`notify: 0` edited to `false` (an API refusing the 0) answered "Saved" and left
    the file as it was: the save compared with Python's ==, where 0 is False and 1 is
    True, and took the edit for no change. Every run went on sending 0."""
    (workflows_dir / "rt_typed.yaml").write_text(TYPED.format(name="rt_typed"))
    doc = _get(client, auth, "rt_typed")
    doc["blocks"]["call"]["json"]["notify"] = False
    assert _saved(client, auth, "rt_typed", doc)["blocks"]["call"]["json"]["notify"] is False
    doc["blocks"]["call"]["json"]["sign"] = 1
    assert _saved(client, auth, "rt_typed", doc)["blocks"]["call"]["json"]["sign"] == 1
    assert "sign: 1" in (workflows_dir / "rt_typed.yaml").read_text()


def test_a_reordered_mapping_inside_a_field_is_saved_in_the_order_sent(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """docs/editor.md: deeper mappings keep the order sent — a parallel's `branches`
    order is the order of its results. A save that only reordered them was taken for
    no change (== ignores key order) and the file kept the old order."""
    path = workflows_dir / "rt_reorder.yaml"
    path.write_text(TYPED.format(name="rt_reorder"))
    doc = _get(client, auth, "rt_reorder")
    doc["blocks"]["par"]["branches"] = {"b": ["fb"], "a": ["fa"]}
    assert list(_saved(client, auth, "rt_reorder", doc)["blocks"]["par"]["branches"]) == ["b", "a"]
    assert list(yaml.safe_load(path.read_text())["blocks"]["par"]["branches"]) == ["b", "a"]


def test_a_mapping_the_browser_reordered_by_itself_is_left_as_written(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """A browser puts a mapping's integer-like keys first (`{"10": 2, "b": 1}` for the
    file's `{b: 1, "10": 2}`): the editor sends that order for a field nobody edited,
    which is no edit of its order."""
    path = workflows_dir / "rt_js_order.yaml"
    original = TYPED.format(name="rt_js_order")
    path.write_text(original)
    doc = _get(client, auth, "rt_js_order")
    doc["blocks"]["call"]["json"] = {"10": 2, "notify": 0, "sign": True, "b": 1}
    doc["blocks"]["call"]["method"] = "PUT"
    _saved(client, auth, "rt_js_order", doc)
    assert _changed_lines(original, path.read_text()) == ["-    method: POST", "+    method: PUT"]
