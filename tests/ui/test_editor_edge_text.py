"""An edge written without spaces (`a->b`, which `flowyard validate` accepts) is the
edge the canvas draws as `a -> b`. The editor took it for a new edge on every save:
an edit of one description moved the edge to the end of `edges` and rewrote the
whole section, losing its comments, where docs/editor.md promises a diff of the
edit alone."""

from __future__ import annotations

import difflib
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, save, select, set_field

pytestmark = BROWSER_TESTS

TIGHT = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  first:
    type: function
    code: |
      return {{"n": 1}}
  last:
    type: function
    code: |
      return {{"m": 2}}
edges:
  - start->first
  # the second step reads the first's output
  - first  ->  last
"""


def _changed(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_an_edit_elsewhere_keeps_edges_written_without_spaces(page: Any, scratch: Any) -> None:
    path = scratch("tight_edges", TIGHT)
    before = path.read_text()
    open_editor(page, "tight_edges")
    select(page, "last")
    set_field(page, "description", "the second step")
    save(page)
    expect(page.locator("#status")).to_have_text("Saved")
    assert _changed(before, path.read_text()) == ["+    description: the second step"]


def test_a_renamed_block_renames_an_edge_written_without_spaces(page: Any, scratch: Any) -> None:
    path = scratch("tight_rename", TIGHT)
    open_editor(page, "tight_rename")
    select(page, "first")
    field = page.locator("#prop-id")
    field.fill("begin")
    field.press("Tab")
    save(page)
    expect(page.locator("#status")).to_have_text("Saved")
    # In their places (the section is rewritten: the edges changed, docs/editor.md).
    assert yaml.safe_load(path.read_text())["edges"] == ["start->begin", "begin  ->  last"]
