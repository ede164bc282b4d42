"""A save from the editor over a file indented with 3, 4 or 8 spaces rewrites only
what changed, as it does for 2 spaces (docs/editor.md, "Saving keeps the file's
text"): a one-field edit of a 4-space file rewrote the whole file the canonical way,
its comments, key order, folded `>-` description and flow-style `{…}` gone, and the
answer said only "saved". New lines follow the file's indentation; a save that
does rewrite the whole file says so in its `warnings`."""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

# Written with 4 spaces a level; `indented` gives it any other width.
HAND_WRITTEN = """\
# Orders: doubled, then checked. Hand-written.
version: 1
name: {name}
description: >-
    Doubles a number
    and checks it.
blocks:
    start:
        type: manual  # the form in the editor
    # Doubles the number; see the ticket.
    double:
        type: function
        timeout: 5  # seconds
        code: |
            if True:
                return {{"n": 2}}
    check: {{type: condition, if: <double.n> == 2}}
    # What the check found.
    report:
        type: function
        code: return {{}}
# start, then each step
edges:
    - start -> double
    - double -> check
    - check.true -> report
layout:
    # left to right
    start: [40, 80]
    double: [260, 80]  # beside it
    check: [480, 80]
    report: [700, 80]
"""


def indented(text: str, unit: int) -> str:
    """``text`` (4 spaces a level) with ``unit`` spaces a level instead."""
    return re.sub(r"(?m)^((?:    )+)", lambda m: " " * (len(m.group(1)) // 4 * unit), text)


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def save(
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    name: str,
    text: str,
    edit: Callable[[dict[str, Any]], None],
) -> tuple[str, str, dict[str, Any]]:
    """The file's text before and after a save of it edited by ``edit``, as the
    editor saves (the JSON document GET gave, edited), and the save's answer."""
    path = workflows_dir / f"{name}.yaml"
    original = text.format(name=name)
    path.write_text(original)
    try:
        doc = client.get(f"/api/workflows/{name}?format=json", headers=auth).get_json()
        edited = copy.deepcopy(doc)
        edit(edited)
        resp = client.put(f"/api/workflows/{name}", json=edited, headers=auth)
        assert resp.status_code == 200, resp.get_json()
        after = path.read_text()
    finally:
        path.unlink()
    assert yaml.safe_load(after) == edited
    return original, after, resp.get_json()


def edit_a_field(doc: dict[str, Any]) -> None:
    doc["blocks"]["double"]["timeout"] = 9


def add_a_block(doc: dict[str, Any]) -> None:
    """A block with a list in it, its edge and its place, as the editor adds them."""
    doc["blocks"]["route"] = {
        "type": "condition",
        "cases": [{"name": "big", "if": "<double.n> > 1"}],
        "else": "small",
    }
    doc["edges"].append("double -> route")
    doc["layout"]["route"] = [480, 200]


def rename_a_block(doc: dict[str, Any]) -> None:
    """In place, its edge and `layout` entry following, as the editor renames."""

    def renamed(keys: dict[str, Any]) -> dict[str, Any]:
        return {("found" if k == "report" else k): v for k, v in keys.items()}

    doc["blocks"], doc["layout"] = renamed(doc["blocks"]), renamed(doc["layout"])
    doc["edges"] = [e.replace("-> report", "-> found") for e in doc["edges"]]


def delete_a_block(doc: dict[str, Any]) -> None:
    del doc["blocks"]["report"], doc["layout"]["report"]
    doc["edges"].remove("check.true -> report")


def expected(edit: Callable[[dict[str, Any]], None], unit: int) -> list[str]:
    """The diff of ``edit`` in the file indented with ``unit`` spaces: only its lines,
    new ones indented as the file is (the `- ` of a list where the file puts it)."""
    one, two, three = (" " * (unit * n) for n in (1, 2, 3))
    return {
        edit_a_field: [f"-{two}timeout: 5  # seconds", f"+{two}timeout: 9"],
        add_a_block: [
            f"+{one}route:",
            f"+{two}type: condition",
            f"+{two}cases:",
            f"+{three}- name: big",
            f"+{three}  if: <double.n> > 1",
            f"+{two}else: small",
            f"+{one}- double -> route",
            f"+{one}route: [480, 200]",
        ],
        rename_a_block: [
            f"-{one}report:",
            f"+{one}found:",
            f"-{one}- check.true -> report",
            f"+{one}- check.true -> found",
            f"-{one}report: [700, 80]",
            f"+{one}found: [700, 80]",
        ],
        delete_a_block: [
            f"-{one}# What the check found.",
            f"-{one}report:",
            f"-{two}type: function",
            f"-{two}code: return {{}}",
            f"-{one}- check.true -> report",
            f"-{one}report: [700, 80]",
        ],
    }[edit]


@pytest.mark.parametrize("unit", [3, 4, 8])
@pytest.mark.parametrize("edit", [edit_a_field, add_a_block, rename_a_block, delete_a_block])
def test_a_save_of_an_indented_file_changes_only_the_edited_lines(
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    unit: int,
    edit: Callable[[dict[str, Any]], None],
) -> None:
    name = f"indented_{unit}_{edit.__name__}"
    original, after, answer = save(
        client, auth, workflows_dir, name, indented(HAND_WRITTEN, unit), edit
    )
    assert changed_lines(original, after) == expected(edit, unit)
    assert "warnings" not in answer  # nothing to say: the file kept its text


SHARED_BLOCK = """# The same block twice, by an anchor.
version: 1
name: {name}
blocks:
    start:
        type: manual
    first: &same
        type: function
        code: return {{}}
    second: *same
edges: [start -> first, first -> second]
"""


def test_a_save_that_rewrites_the_whole_file_says_so(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """`second: *same` names the text of `first`, which the edit rewrites: no patch of
    the file's lines loads back as the document, so the whole file is written the
    canonical way, and the answer says its comments and formatting are gone."""
    name = "indented_shared"
    original, after, answer = save(
        client,
        auth,
        workflows_dir,
        name,
        SHARED_BLOCK,
        lambda doc: doc["blocks"]["first"].update(timeout=9),
    )
    assert "# The same block twice" not in after and "&same" not in after
    [said] = answer["warnings"]
    assert (said["file"], said["block"], said["field"]) == (f"{name}.yaml", None, None)
    assert said["message"].startswith("the whole file was written anew the canonical way")
    assert "without its comments and formatting" in said["message"]
