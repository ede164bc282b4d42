"""Saving a hand-written, 4-space file from the editor in a real browser (Debian's
chromium, as in test_browser_editor.py): the file keeps its text but for the edit,
and a save that had to rewrite the whole file says so in the status line, where
it said only "Saved" (test_editor_indented_saves.py has the API side)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, select, set_field
from tests.ui.test_editor_indented_saves import HAND_WRITTEN, SHARED_BLOCK, changed_lines

pytestmark = BROWSER_TESTS


def test_an_edit_of_a_4_space_file_saves_its_line_alone(page: Any, scratch: Any) -> None:
    path = scratch("indented_browser", HAND_WRITTEN)
    original = path.read_text()
    open_editor(page, "indented_browser")
    select(page, "double")
    set_field(page, "timeout", "9")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert changed_lines(original, path.read_text()) == [
        "-        timeout: 5  # seconds",
        "+        timeout: 9",
    ]


def test_a_save_that_rewrites_the_whole_file_says_so(page: Any, scratch: Any) -> None:
    path = scratch("indented_browser_shared", SHARED_BLOCK)
    open_editor(page, "indented_browser_shared")
    select(page, "first")
    set_field(page, "code", "return 1")
    page.click("#btn-save")
    status = page.locator("#status")
    expect(status).to_contain_text("Saved · the whole file was written anew the canonical way")
    expect(status).to_have_class("warn")
    assert "&same" not in path.read_text()
