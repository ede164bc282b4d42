"""A `layout` entry naming no block (a hand-written `ghost: [1, 2]`, a position kept
for a block that is coming back) is the file's, not the editor's: a save keeps it, and
a save whose edits were all undone writes nothing (docs/editor.md, "Nothing changed").
The editor built `layout` from the canvas's blocks alone, so the entry was dropped and
the file rewritten on a save that changed nothing; so were positions it wrote its own
way (a fraction rounded, a block's size dropped, a container's added) (real Chromium)."""

from __future__ import annotations

from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, select

pytestmark = BROWSER_TESTS

WITH_GHOST = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  add:
    type: function
    code: return 1
  gone:
    type: function
    code: return 2
edges:
  - start -> add
layout: {{start: [40, 80], add: [260, 80], ghost: [1, 2], gone: [500, 80]}}
"""


def rename(page: Any, old: str, new: str) -> None:
    select(page, old)
    page.fill("#prop-id", new)
    page.press("#prop-id", "Tab")  # commits the id


def test_an_undone_edit_leaves_a_file_with_an_orphan_layout_entry_unwritten(
    page: Any, scratch: Any
) -> None:
    path = scratch("orphan_layout_undo", WITH_GHOST)
    original = path.read_text()
    before = path.stat().st_mtime_ns
    open_editor(page, "orphan_layout_undo")
    rename(page, "add", "adder")
    page.click("#btn-undo")
    page.wait_for_selector("g.x6-node[data-cell-id='add']")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original
    assert path.stat().st_mtime_ns == before  # not even rewritten with the same bytes


def test_a_save_keeps_an_orphan_layout_entry_and_drops_a_deleted_blocks(
    page: Any, scratch: Any
) -> None:
    path = scratch("orphan_layout_edit", WITH_GHOST)
    open_editor(page, "orphan_layout_edit")
    select(page, "gone")
    page.click("#delete-block")  # a block the editor deleted: its position goes too
    page.wait_for_selector("g.x6-node[data-cell-id='gone']", state="detached")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    saved = yaml.safe_load(path.read_text())
    assert list(saved["blocks"]) == ["start", "add"]
    assert saved["layout"] == {"start": [40, 80], "add": [260, 80], "ghost": [1, 2]}


#: Entries the schema allows that the editor would write otherwise: a fraction, a
#: block's size given, a container's position without its size.
HAND_PLACED = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  add:
    type: function
    code: return 1
  lp:
    type: loop
    count: 2
    body: [step]
  step:
    type: function
    code: return 2
edges:
  - start -> add
  - add -> lp
layout:
  start: [40.5, 80.25]
  add: [260, 80, 180, 60]
  lp: [480, 60]
"""


def test_an_undone_edit_leaves_hand_placed_positions_as_written(page: Any, scratch: Any) -> None:
    path = scratch("hand_placed_undo", HAND_PLACED)
    original = path.read_text()
    open_editor(page, "hand_placed_undo")
    rename(page, "add", "adder")
    page.click("#btn-undo")
    page.wait_for_selector("g.x6-node[data-cell-id='add']")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original
