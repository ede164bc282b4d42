"""The editor without a mouse, in a real browser (Debian's chromium, as in
test_browser_editor.py): blocks are Tab stops that Enter selects and Delete
deletes, the properties panel connects the selected block's ports to other
blocks, and Ctrl+Z / Ctrl+Shift+Z work wherever the focus is but a text field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import node, open_editor

pytestmark = BROWSER_TESTS

CHAIN = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  add:
    type: function
    code: |
      return {{"sum": 1 + 2}}
  check:
    type: condition
    if: <add.sum> == 3
  done:
    type: function
    code: |
      return {{"ok": True}}
edges:
  - start -> add
  - add -> check
  - start -> done
"""


def focused_block(page: Any) -> str | None:
    return page.evaluate(
        "document.activeElement?.closest('g.x6-node')?.getAttribute('data-cell-id') ?? null"
    )


def tab_to_block(page: Any, cell: str) -> None:
    """From the palette's last item, Tab until the block has the focus."""
    page.locator(".palette-item").last.focus()
    seen = []
    for _ in range(8):
        page.keyboard.press("Tab")
        seen.append(focused_block(page))
        if seen[-1] == cell:
            return
    raise AssertionError(f"Tab never reached {cell}: focused {seen}")


def saved(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_blocks_are_tab_stops_that_enter_selects_and_delete_deletes(
    page: Any, scratch: Any
) -> None:
    """The canvas had no focusable element: a keyboard user could not select,
    delete or connect an existing block."""
    scratch("keys_select", CHAIN)
    open_editor(page, "keys_select")
    page.locator(".palette-item").last.focus()
    page.keyboard.press("Tab")
    assert focused_block(page) in {"start", "add", "check", "done"}  # the next stop is a block
    tab_to_block(page, "add")
    page.keyboard.press("Enter")
    page.wait_for_selector("#props-form[data-bid='add']")
    tab_to_block(page, "check")
    page.keyboard.press(" ")
    page.wait_for_selector("#props-form[data-bid='check']")
    tab_to_block(page, "add")
    page.keyboard.press("Delete")
    expect(node(page, "add")).to_have_count(0)
    expect(page.locator("g.x6-edge")).to_have_count(1)  # its edges went with it
    expect(node(page, "check")).to_have_count(1)  # the selected block stays


def test_undo_and_redo_keys_work_outside_the_canvas_but_not_in_text(
    page: Any, scratch: Any
) -> None:
    """Ctrl+Z worked only while the canvas had the focus, though the Undo button
    says "Undo (Ctrl+Z)"."""
    scratch("keys_undo", CHAIN)
    open_editor(page, "keys_undo")
    tab_to_block(page, "add")
    page.keyboard.press("Delete")
    expect(node(page, "add")).to_have_count(0)
    page.focus("#btn-save")
    page.keyboard.press("Control+z")
    expect(node(page, "add")).to_have_count(1)
    expect(page.locator("g.x6-edge")).to_have_count(3)
    page.keyboard.press("Control+Shift+z")
    expect(node(page, "add")).to_have_count(0)
    # In a text field the keys undo the typing, not the canvas.
    page.focus("#wf-name")
    page.keyboard.press("Control+z")
    page.focus("#btn-run")  # leaves the field, and a key handled late would show now
    expect(page.locator("#btn-undo")).to_be_enabled()
    expect(node(page, "add")).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(node(page, "add")).to_have_count(1)


def test_the_properties_panel_connects_and_disconnects_the_selected_block(
    page: Any, scratch: Any
) -> None:
    path = scratch("keys_connect", CHAIN)
    open_editor(page, "keys_connect")
    tab_to_block(page, "check")
    page.keyboard.press("Enter")
    page.wait_for_selector("#props-form[data-bid='check']")
    # A condition chooses its port; its own id is no target.
    assert page.locator("#connect-port option").all_inner_texts() == ["true", "false"]
    assert "check" not in page.locator("#connect-to option").all_inner_texts()
    page.focus("#connect-port")
    page.locator("#connect-port").select_option("false")
    page.locator("#connect-to").select_option("done")
    page.focus("#connect-add")
    page.keyboard.press("Enter")
    expect(page.locator("#connection-list li span")).to_have_text(["false → done"])
    expect(page.locator("#connect-to")).to_be_focused()  # the keyboard stays in place
    expect(page.locator("g.x6-edge")).to_have_count(4)
    # The same edge twice is refused, and said.
    page.locator("#connect-port").select_option("false")
    page.locator("#connect-to").select_option("done")
    page.focus("#connect-add")
    page.keyboard.press("Enter")
    expect(page.locator("#connections .field-error")).to_have_text(
        "false → done is already connected"
    )
    expect(page.locator("g.x6-edge")).to_have_count(4)
    page.keyboard.press("Control+s")
    expect(page.locator("#status")).to_have_text("Saved")
    edges = ["start -> add", "add -> check", "start -> done", "check.false -> done"]
    assert saved(path)["edges"] == edges
    # A block with one port has no port to choose; Remove takes an edge away.
    tab_to_block(page, "start")
    page.keyboard.press("Enter")
    page.wait_for_selector("#props-form[data-bid='start']")
    expect(page.locator("#connect-port")).to_have_count(0)
    expect(page.locator("#connection-list li span")).to_have_text(["out → add", "out → done"])
    page.focus("#connection-list button[aria-label='Remove out → done']")
    page.keyboard.press("Enter")
    expect(page.locator("#connection-list li span")).to_have_text(["out → add"])
    expect(page.locator("g.x6-edge")).to_have_count(3)
    page.keyboard.press("Control+s")
    expect(page.locator("#status")).to_have_text("Saved")
    assert saved(path)["edges"] == ["start -> add", "add -> check", "check.false -> done"]
