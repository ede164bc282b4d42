"""The editor never loses or invents file content, in a real browser (Debian's
chromium, as in test_browser_editor.py):

- an edit still being typed is unsaved at once, and Save / Ctrl+S commit it first;
- a file that cannot be parsed locks the editor (no Save, Run or palette) and shows
  the parser's message, so one click can no longer replace it with an empty workflow;
- an invalid file shows its problems on load, and an edge the canvas cannot draw
  is reported before a save removes it;
- a file changed on disk after the page loaded it (a `git pull`) is not overwritten
  by the page's next save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import node, open_editor, select

pytestmark = BROWSER_TESTS

SMALL = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  add:
    type: function
    code: |
      return {{"sum": 1 + 2}}
edges:
  - start -> add
"""


def saved_code(path: Path) -> str:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["blocks"]["add"]["code"]


def test_typing_marks_unsaved_and_the_first_save_click_saves_it(page: Any, scratch: Any) -> None:
    path = scratch("typing_click", SMALL)
    open_editor(page, "typing_click")
    select(page, "add")
    code = page.locator("#props-form [data-field='code']")
    code.fill('return {"sum": 40 + 2}')  # typed: the field still has the focus
    expect(page.locator("#dirty")).to_be_visible()
    assert page.evaluate("document.activeElement.dataset.field") == "code"

    page.click("#btn-save")  # one click
    expect(page.locator("#status")).to_have_text("Saved")
    assert saved_code(path) == 'return {"sum": 40 + 2}'
    expect(page.locator("#dirty")).to_be_hidden()


def test_text_typed_while_the_check_on_load_answers_is_kept(page: Any, scratch: Any) -> None:
    """The check on load re-drew the panel from the committed value: what was typed
    meanwhile was lost, and the next Save saved the old text."""
    path = scratch("typing_slow_check", SMALL)
    released: list[Any] = []
    page.route("**/validate", lambda route: released.append(route))  # held until typed
    page.goto("/editor/typing_slow_check")
    page.wait_for_selector("#editor[data-ready='true']")
    select(page, "add")
    code = page.locator("#props-form [data-field='code']")
    code.fill('return {"sum": 5 + 5}')  # typed, not committed
    for _ in range(100):  # the check's request, held since the page loaded
        if released:
            break
        page.wait_for_timeout(50)
    assert released, "the editor never asked to check the file"
    for route in released:
        route.continue_()
    page.wait_for_selector("#editor[data-validated='true']")
    assert code.input_value() == 'return {"sum": 5 + 5}'
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert saved_code(path) == 'return {"sum": 5 + 5}'


def test_ctrl_s_while_typing_saves_what_is_on_screen(page: Any, scratch: Any) -> None:
    path = scratch("typing_ctrl_s", SMALL)
    open_editor(page, "typing_ctrl_s")
    select(page, "add")
    code = page.locator("#props-form [data-field='code']")
    code.fill('return {"sum": 20 + 22}')
    expect(page.locator("#dirty")).to_be_visible()
    code.press("Control+s")
    expect(page.locator("#status")).to_have_text("Saved")
    assert saved_code(path) == 'return {"sum": 20 + 22}'
    expect(page.locator("#dirty")).to_be_hidden()
    # The panel redrawn after the save gives the field back: typing goes on.
    assert page.evaluate("document.activeElement.dataset.field") == "code"
    # Leaving the field afterwards commits the same text again: still nothing unsaved.
    page.locator("#canvas").click(position={"x": 600, "y": 600})
    page.wait_for_selector("#workflow-form")
    expect(page.locator("#dirty")).to_be_hidden()

    # The workflow's own fields too: typing is unsaved at once, Ctrl+S saves it.
    page.fill("#wf-description", "typed, not blurred")
    expect(page.locator("#dirty")).to_be_visible()
    page.press("#wf-description", "Control+s")
    expect(page.locator("#dirty")).to_be_hidden()
    assert yaml.safe_load(path.read_text())["description"] == "typed, not blurred"


def test_clicking_save_with_an_invalid_block_id_typed_saves_nothing(
    page: Any, scratch: Any
) -> None:
    """The click blurs the id field first: its refused commit was forgotten, the old
    id saved and "Saved" shown, the rename lost without a word (Ctrl+S refused it)."""
    path = scratch("bad_id_click", SMALL)
    before = path.read_text()
    open_editor(page, "bad_id_click")
    select(page, "add")
    page.fill("#prop-id", "Bad Id")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Not saved: fix the field being edited first")
    assert path.read_text() == before
    expect(page.locator("#prop-id")).to_have_value("Bad Id")  # what was typed stays


@pytest.mark.parametrize(
    ("typed", "message", "then"),
    [
        ("Big-One", "ids are lower-case letters, digits and _", "type in description"),
        ("start", "another block has this id", "type in description"),
        ("Big-One", "ids are lower-case letters, digits and _", "click description"),
    ],
)
def test_a_refused_block_id_stops_the_save_after_the_focus_moved_on(
    page: Any, scratch: Any, typed: str, message: str, then: str
) -> None:
    """Tab (or a click) away from a refused id showed its error, but a commit of the
    next field forgot the refusal: Ctrl+S said "Saved", the id went back and the
    rename was lost."""
    path = scratch("bad_id_then_on", SMALL)
    before = path.read_text()
    open_editor(page, "bad_id_then_on")
    select(page, "add")
    page.fill("#prop-id", typed)
    page.press("#prop-id", "Tab")
    expect(page.locator("#props-form .field-error").first).to_have_text(message)
    description = page.locator("#props-form [data-field='description']")
    description.click()
    if then == "type in description":
        page.keyboard.type("adds")
    page.keyboard.press("Control+s")
    expect(page.locator("#status")).to_have_text("Not saved: fix the field being edited first")
    assert path.read_text() == before
    expect(page.locator("#prop-id")).to_have_value(typed)
    expect(page.locator("#props-form .field-error").first).to_have_text(message)


READERS = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  add:
    type: function
    code: |
      return {{"sum": 1 + 2}}
  add_more:
    type: function
    code: |
      return {{"sum": 5}}
  check:
    type: condition
    if: <add.sum> == 3 and <add?> is not None and <add_more.sum> == 5
edges:
  - start -> add
  - add -> add_more
  - add_more -> check
output: <add.sum>
"""


def test_renaming_a_block_renames_the_references_to_it(page: Any, scratch: Any) -> None:
    """Every reader said "names unknown block 'add'" until fixed by hand."""
    path = scratch("renames", READERS)
    original = path.read_text()
    open_editor(page, "renames")
    select(page, "add")
    page.fill("#prop-id", "adder")
    page.press("#prop-id", "Tab")  # commits the id
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    saved = yaml.safe_load(path.read_text())
    assert list(saved["blocks"]) == ["start", "adder", "add_more", "check"]
    # `<add_more.…>` names another block: untouched.
    assert saved["blocks"]["check"]["if"] == (
        "<adder.sum> == 3 and <adder?> is not None and <add_more.sum> == 5"
    )
    assert saved["output"] == "<adder.sum>"
    assert saved["edges"] == ["start -> adder", "adder -> add_more", "add_more -> check"]
    # Undo: the block, its edges and the output are back, the file as it was.
    page.click("#btn-undo")
    node(page, "add").wait_for()
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original


LOOPED = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  lp:
    type: loop
    count: 2
    body: [step]
    accumulate: {{initial: 0, next: <step.n>}}
  step:
    type: function
    code: |
      return {{"n": <state> + 1}}
  after:
    type: function
    code: |
      return {{"total": <lp.state>}}
edges:
  - start -> lp
  - lp -> after
output: <lp.state>
"""


def test_a_renamed_container_keeps_its_keys_edges_and_place(page: Any, scratch: Any) -> None:
    path = scratch("rename_loop", LOOPED)
    open_editor(page, "rename_loop")
    select(page, "lp")
    page.fill("#prop-id", "fold")
    page.press("#prop-id", "Tab")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    saved = yaml.safe_load(path.read_text())
    assert list(saved["blocks"]) == ["start", "fold", "step", "after"]
    assert list(saved["blocks"]["fold"]) == ["type", "count", "body", "accumulate"]
    assert saved["edges"] == ["start -> fold", "fold -> after"]
    assert saved["blocks"]["after"]["code"] == 'return {"total": <fold.state>}\n'
    assert saved["output"] == "<fold.state>"


def test_a_save_does_not_undo_a_change_made_on_disk_meanwhile(page: Any, scratch: Any) -> None:
    path = scratch("pulled", SMALL)
    open_editor(page, "pulled")
    pulled = path.read_text().replace("1 + 2", "1 + 2 + 3")  # a `git pull` lands
    path.write_text(pulled)
    select(page, "add")
    page.locator("#props-form [data-field='code']").fill('return {"sum": 99}')
    page.click("#btn-save")
    expect(page.locator("#status")).to_contain_text("Not saved: the file changed since")
    assert path.read_text() == pulled  # the pulled change stands
    expect(page.locator("#dirty")).to_be_visible()  # and the page's edit is still unsaved

    page.reload()  # as the message says: reload, then apply the change again
    page.wait_for_selector("#editor[data-ready='true']")
    select(page, "add")
    page.locator("#props-form [data-field='code']").fill('return {"sum": 99}')
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert saved_code(path) == 'return {"sum": 99}'
    page.locator("#props-form [data-field='code']").fill('return {"sum": 100}')
    page.click("#btn-save")  # its own save is the version it now holds: saved again
    expect(page.locator("#status")).to_have_text("Saved")
    assert saved_code(path) == 'return {"sum": 100}'


def test_a_new_workflow_saved_in_another_tab_first_is_not_overwritten(
    page: Any, workflows_dir: Path
) -> None:
    """Two tabs opened on one new name: the second save replaced the first tab's
    workflow without a word (no If-Match for a file that did not exist)."""
    path = workflows_dir / "two_tabs_new.yaml"
    other = page.context.new_page()
    try:
        open_editor(page, "two_tabs_new")
        open_editor(other, "two_tabs_new")
        page.click(".palette-item[data-type='manual']")
        page.click("#btn-save")
        expect(page.locator("#status")).to_have_text("Saved")
        first = path.read_text()

        other.click(".palette-item[data-type='manual']")
        other.fill("#props-form [data-field='name']", "the second tab's")
        other.click("#btn-save")
        expect(other.locator("#status")).to_contain_text("Not saved: the file changed since")
        assert path.read_text() == first
        expect(other.locator("#dirty")).to_be_visible()
        # The first tab goes on saving over its own version.
        page.click(".palette-item[data-type='function']")
        page.fill("#props-form [data-field='code']", "return {}")
        page.click("#btn-save")
        expect(page.locator("#status")).to_have_text("Saved")
        assert list(yaml.safe_load(path.read_text())["blocks"]) == ["manual", "function"]
    finally:
        other.close()
        path.unlink(missing_ok=True)


BROKEN = """\
version: 1
name: {name}
blocks:
  start:
    type: [manual
edges: []
"""


def test_a_file_that_cannot_be_parsed_cannot_be_overwritten(page: Any, scratch: Any) -> None:
    path = scratch("cannot_parse", BROKEN)
    before = path.read_bytes()
    open_editor(page, "cannot_parse")
    expect(page.locator("#btn-save")).to_be_disabled()
    expect(page.locator("#btn-run")).to_be_disabled()
    # The parser's own message, with where it failed.
    expect(page.locator("#problem-list")).to_contain_text("line 5, column")
    expect(page.locator("#status")).to_contain_text("Cannot load")
    # Neither a palette click nor a drop adds a block, and Ctrl+S saves nothing.
    item = page.locator(".palette-item[data-type='function']")
    expect(item).to_have_attribute("aria-disabled", "true")
    item.click(force=True)  # aria-disabled: Playwright would wait for it to enable
    page.drag_and_drop(
        ".palette-item[data-type='function']", "#canvas", target_position={"x": 200, "y": 200}
    )
    expect(page.locator("g.x6-node")).to_have_count(0)
    page.keyboard.press("Control+s")
    expect(page.locator("#status")).to_contain_text("Not saved")
    assert path.read_bytes() == before


INVALID = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  f:
    type: function
    code: 'return {{"x": 1}}'
    bogus: 3
  z:
    type: nosuchtype
edges:
  - start -> f
  - f -> ghost
  - f -> z
"""


def test_problems_of_an_invalid_file_show_on_load(page: Any, scratch: Any) -> None:
    scratch("invalid_on_load", INVALID)
    open_editor(page, "invalid_on_load")
    problems = page.locator("#problem-list")
    expect(problems).to_contain_text("unknown key 'bogus'")
    expect(problems).to_contain_text("unknown block type 'nosuchtype'")
    expect(problems).to_contain_text("missing block 'ghost'")
    # The edge the canvas cannot draw is said to be left out, and what a save does.
    warning = page.locator("#problem-list li.dropped")
    expect(warning).to_have_count(1)
    expect(warning).to_contain_text("f -> ghost")
    expect(warning).to_contain_text("saving removes it")
    assert node(page, "z").locator("rect").first.get_attribute("stroke") == "#e03131"
    assert node(page, "f").locator("rect").first.get_attribute("stroke") == "#e03131"


GHOST_EDGE = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  f:
    type: function
    code: 'return {{"x": 1}}'
edges:
  - start -> f
  - f -> ghost
"""


def test_an_edge_to_a_missing_block_is_not_removed_silently(page: Any, scratch: Any) -> None:
    path = scratch("ghost_edge", GHOST_EDGE)
    open_editor(page, "ghost_edge")
    expect(page.locator("#problem-list li.dropped")).to_contain_text("f -> ghost")
    page.click("#btn-save")
    # The save that drops it says so.
    expect(page.locator("#status")).to_contain_text("removed edge f -> ghost")
    assert yaml.safe_load(path.read_text())["edges"] == ["start -> f"]
