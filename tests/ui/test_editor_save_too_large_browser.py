"""Saving a workflow whose JSON is over the server's request limit (FLOWYARD_MAX_BODY,
1 MiB by default: ~400 Function blocks of 60 lines each) says which limit and the
setting that raises it. The editor said "Not saved: payload too large", leaving a
user whose workflow had grown no way to tell what to change (real Chromium).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import node, open_editor, save

pytestmark = BROWSER_TESTS


def test_a_save_over_the_request_limit_names_the_limit_and_its_setting(
    page: Any, workflows_dir: Path
) -> None:
    code = "\n".join(f"x{j} = {j}  # a line of notes on what this step does" for j in range(60))
    blocks: dict[str, Any] = {"start": {"type": "manual"}}
    for i in range(500):
        blocks[f"f{i}"] = {"type": "function", "code": f"{code}\nreturn {{'v': {i}}}\n"}
    doc = {"version": 1, "name": "too_large_save", "blocks": blocks, "edges": ["start -> f0"]}
    path = workflows_dir / "too_large_save.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        open_editor(page, "too_large_save")
        box = node(page, "start").bounding_box()
        page.mouse.move(box["x"] + 20, box["y"] + 20)
        page.mouse.down()
        page.mouse.move(box["x"] + 60, box["y"] + 90, steps=5)
        page.mouse.up()
        save(page)
        said = page.inner_text("#status")
        assert page.locator("#status.error").count() == 1, said
        assert said.startswith("Not saved: larger than the server's request limit"), said
        assert "FLOWYARD_MAX_BODY" in said, said
    finally:
        path.unlink()
