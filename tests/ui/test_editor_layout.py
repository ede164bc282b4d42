"""The editor stays usable at 1280x800 whatever the workflow's name (real Chromium)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor

pytestmark = BROWSER_TESTS


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
