"""A block's id and display name in the editor, in a real browser (Debian's
chromium, as in test_browser_editor.py): a rename keeps the block's comments in
the file; the ids the palette gives are valid ones; a block's `name` is shown
on the canvas and edited in the properties panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import connect, drop, node, open_editor, select, set_field

pytestmark = BROWSER_TESTS

COMMENTED = """\
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
edges:
  - start -> old
"""


def test_renaming_a_block_keeps_its_comments(page: Any, scratch: Any) -> None:
    """The comment above the block and its fields' inline comments were dropped:
    the diff of a rename is now the id and the edge naming it."""
    path = scratch("ids_rename", COMMENTED)
    original = path.read_text()
    open_editor(page, "ids_rename")
    select(page, "old")
    page.fill("#prop-id", "renamed")
    page.press("#prop-id", "Tab")  # commits the id
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original.replace("  old:", "  renamed:").replace(
        "-> old", "-> renamed"
    )


IN_A_BODY = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  lp:
    type: loop
    items: [1, 2, 3]
    as: x
    body: [step, step2]
    accumulate: {{initial: 0, next: <step.total>}}
  step:
    type: function
    code: 'return {{"total": input.state + input.x}}'
  step2:
    type: function
    code: 'return {{"t": input.step.total}}'
edges: [start -> lp, step -> step2]
"""


def test_a_block_renamed_in_a_loop_body_keeps_its_place(page: Any, scratch: Any) -> None:
    """`[step, step2]` with step renamed was saved as `[step2, adder]`: the loop then
    ran step2 before the block it reads."""
    path = scratch("ids_in_body", IN_A_BODY)
    open_editor(page, "ids_in_body")
    select(page, "step")
    page.fill("#prop-id", "adder")
    page.press("#prop-id", "Tab")  # commits the id
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    saved = yaml.safe_load(path.read_text())
    assert saved["blocks"]["lp"]["body"] == ["adder", "step2"]
    assert saved["blocks"]["lp"]["accumulate"] == {"initial": 0, "next": "<adder.total>"}
    assert list(saved["blocks"]) == ["start", "lp", "adder", "step2"]
    assert saved["edges"] == ["start -> lp", "adder -> step2"]


def test_two_loops_from_the_palette_get_ids_that_save(page: Any, workflows_dir: Path) -> None:
    """The first loop was `loop`, which a second loop after it hides in its body
    (`<loop>` there is the iteration's number): the save was refused until renamed."""
    open_editor(page, "ids_two_loops")
    try:
        drop(page, "manual", 60, 60)
        drop(page, "loop", 300, 40)
        drop(page, "loop", 300, 340)
        drop(page, "function", 420, 140)  # into loop_1's body
        drop(page, "function", 420, 440)  # into loop_2's
        for cell in ("manual", "loop_1", "loop_2", "function", "function_2"):
            node(page, cell).wait_for()
        for cell in ("function", "function_2"):
            select(page, cell)
            set_field(page, "code", "return {}")
        connect(page, "manual", "loop_1")
        connect(page, "loop_1", "loop_2")
        for cell in ("loop_1", "loop_2"):
            select(page, cell)
            set_field(page, "items", "[1, 2]")
        page.click("#btn-save")
        expect(page.locator("#status")).to_have_text("Saved")
        saved = yaml.safe_load((workflows_dir / "ids_two_loops.yaml").read_text())
        assert saved["edges"] == ["manual -> loop_1", "loop_1 -> loop_2"]
    finally:
        (workflows_dir / "ids_two_loops.yaml").unlink(missing_ok=True)


NAMED = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  add:
    type: function
    name: Add the fees
    code: |
      return {{"sum": 1 + 2}}
edges:
  - start -> add
"""


def label(page: Any, cell: str) -> list[str]:
    """The lines of a block's label on the canvas."""
    lines = node(page, cell).locator(":scope > text tspan").all_text_contents()
    return [line.replace("\xa0", " ") for line in lines]


def test_a_blocks_display_name_is_shown_and_edited(page: Any, scratch: Any) -> None:
    """`name` ("Display name in the editor") was neither shown on the canvas nor
    editable, and `description` not editable either."""
    path = scratch("ids_named", NAMED)
    open_editor(page, "ids_named")
    assert label(page, "add") == ["Add the fees", "add · function"]
    assert label(page, "start") == ["start", "manual"]  # no name: id and type

    select(page, "add")
    expect(page.locator("#prop-name")).to_have_value("Add the fees")
    page.fill("#prop-name", "Add fees and tax")
    page.press("#prop-name", "Tab")  # commits it
    assert label(page, "add") == ["Add fees and tax", "add · function"]
    page.click("#btn-undo")  # the label follows the block's data back and forth
    assert label(page, "add") == ["Add the fees", "add · function"]
    page.click("#btn-redo")
    assert label(page, "add") == ["Add fees and tax", "add · function"]

    select(page, "add")
    page.fill("#prop-description", "Charged at checkout.")
    page.locator("#prop-description").dispatch_event("change")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    block = yaml.safe_load(path.read_text())["blocks"]["add"]
    assert block["name"] == "Add fees and tax"
    assert block["description"] == "Charged at checkout."

    select(page, "add")
    page.fill("#prop-name", "")  # no name: the id is the label again
    page.press("#prop-name", "Tab")
    assert label(page, "add") == ["add", "function"]


def test_an_id_error_goes_once_the_id_is_corrected(page: Any, scratch: Any) -> None:
    """ "ids are lower-case letters, digits and _" stayed under a corrected id: the
    message was hidden (`hidden`), but `.field-error { display: block }` showed it."""
    scratch("ids_error_goes", COMMENTED)
    open_editor(page, "ids_error_goes")
    select(page, "old")
    page.fill("#prop-id", "Bad Id")
    page.press("#prop-id", "Tab")
    error = page.locator("#props-form .field-error", has_text="ids are lower-case")
    expect(error).to_be_visible()
    page.fill("#prop-id", "good_id")
    page.press("#prop-id", "Tab")
    expect(error).to_be_hidden()
