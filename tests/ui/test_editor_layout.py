"""The editor stays usable at 1280x800 whatever the workflow's name, and a block's
label stays inside its block whatever its id (real Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import node, open_editor, select

pytestmark = BROWSER_TESTS


def label_lines(page: Any, cell: str) -> list[str]:
    """The lines of a block's label on the canvas."""
    lines = node(page, cell).locator(":scope > text tspan").all_text_contents()
    return [line.replace("\xa0", " ") for line in lines]


def test_a_100_character_name_keeps_the_top_bar_in_the_window(
    page: Any, workflows_dir: Path
) -> None:
    """It pushed the brand, the nav and the palette off the left edge (x = -335)."""
    name = "n" * 100  # the longest name the product accepts
    path = workflows_dir / f"{name}.yaml"
    path.write_text(f"name: {name}\nblocks:\n  start: {{type: manual}}\n")
    try:
        page.set_viewport_size({"width": 1280, "height": 800})
        open_editor(page, name)
        for selector in (".brand", "#btn-save", "#palette", ".logout"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["x"] >= 0, (selector, box)
            assert box["x"] + box["width"] <= 1280, (selector, box)
        assert page.locator("#wf-title").get_attribute("title") == name  # the whole name
    finally:
        path.unlink()


INVALID = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  add:
    type: function
    code: |
      return <nosuch.x>
edges:
  - start -> add
"""


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def test_at_800px_the_editor_bar_wraps_and_the_problems_stay_on_screen(
    page: Any, scratch: Any
) -> None:
    """At 800 px the title was cut to "fl", the status wrapped one word per line
    (the bar ~100 px tall) and was drawn over "Log out", the toolbar overflowed, and
    the problems list started below the fold."""
    page.set_viewport_size({"width": 800, "height": 800})
    scratch("layout_at_800px_wide", INVALID)
    open_editor(page, "layout_at_800px_wide")
    expect(page.locator("#status")).to_have_text("This file has 1 problem")
    title = page.locator("#wf-title")
    assert title.evaluate("t => t.scrollWidth <= t.clientWidth")  # the whole name shows
    toolbar = page.locator("#toolbar")
    assert toolbar.evaluate("t => t.scrollWidth <= t.clientWidth")
    status = page.locator("#status")
    line = float(status.evaluate("s => parseFloat(getComputedStyle(s).lineHeight)"))
    assert status.bounding_box()["height"] < 2 * line  # one line, not a word per line
    logout = page.locator(".logout").bounding_box()
    for item in ("#wf-title", "#btn-save", "#btn-run", "#btn-yaml", "#status"):
        assert not overlap(page.locator(item).bounding_box(), logout), item
    # The problems list is in the window, below a long form too.
    select(page, "add")
    problem = page.locator("#problem-list li").first
    box = problem.bounding_box()
    assert box["y"] + box["height"] <= 800, box
    assert page.evaluate("document.documentElement.scrollWidth") <= 800
    assert page.evaluate("document.documentElement.scrollHeight") <= 800


LONG_IDS = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  a_very_long_block_identifier_that_goes_on_and_on_forever_and_ever:
    type: function
    name: Ein sehr langer Anzeigename für diesen Block
    code: |
      return {{"ok": True}}
  b:
    type: function
    code: |
      return {{"ok": True}}
  wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww:
    type: loop
    items: [1]
    body: [inner]
  inner:
    type: function
    code: |
      return {{"ok": True}}
edges:
  - start -> a_very_long_block_identifier_that_goes_on_and_on_forever_and_ever
  - a_very_long_block_identifier_that_goes_on_and_on_forever_and_ever -> b
  - b -> wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww
layout:
  start: [40, 40]
  a_very_long_block_identifier_that_goes_on_and_on_forever_and_ever: [240, 40]
  b: [440, 40]
  wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww: [40, 160, 260, 150]
  inner: [80, 220]
"""


def test_a_long_block_id_is_clipped_to_its_block_and_whole_in_its_tooltip(
    page: Any, scratch: Any
) -> None:
    """A 66-character id ran over the blocks beside it."""
    scratch("long_ids", LONG_IDS)
    long_id = "a_very_long_block_identifier_that_goes_on_and_on_forever_and_ever"
    loop_id = "w" * 59
    open_editor(page, "long_ids")
    for cell, title in (
        (long_id, f"Ein sehr langer Anzeigename für diesen Block — {long_id} · function"),
        (loop_id, f"{loop_id} · loop"),
        ("b", "b · function"),
    ):
        block = node(page, cell)
        body = block.locator(":scope > rect").first.bounding_box()
        label = block.locator(":scope > text").first
        shown = label.bounding_box()
        assert body is not None and shown is not None
        # Inside its block, ports' circles (6 px) aside.
        assert body["x"] + 6 <= shown["x"], (cell, body, shown)
        assert shown["x"] + shown["width"] <= body["x"] + body["width"] - 6, (cell, body, shown)
        expect(block.locator(":scope > rect > title")).to_have_text(title)
    lines = label_lines(page, long_id)
    assert lines[0].endswith("…") and lines[1].startswith("a_very_long_block_"), lines
    assert lines[1].endswith("…") and long_id not in lines[1], lines
    assert label_lines(page, "b") == ["b", "function"]  # short ones are whole

    # Renamed, the tooltip says the new id.
    select(page, "b")
    page.fill("#prop-id", "b_renamed")
    page.press("#prop-id", "Tab")
    expect(node(page, "b").locator(":scope > rect > title")).to_have_text("b_renamed · function")
