"""The shipped templates' `layout:` places every block where the editor shows it
sensibly: each inside its container's box, none over another of its region.

Block sizes are the editor's own (ui/static/js/editor/graph.js: BLOCK_W x BLOCK_H,
read from the file so a bigger block is checked at its new size); a container's
entry is its box [x, y, w, h]. Every template that has a `layout:` is checked: only
order_processing was, and Replay Events drew want_repair over load_current."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from templates import ROOT as TEMPLATES
from templates import list_templates

GRAPH_JS = Path(__file__).resolve().parents[2] / "ui" / "static" / "js" / "editor" / "graph.js"
#: A container's title bar: its members start below it.
TITLE_H = 30


def editor_size(name: str) -> int:
    found = re.search(rf"export const {name} = (\d+);", GRAPH_JS.read_text(encoding="utf-8"))
    assert found, f"{name} is no longer in {GRAPH_JS}"
    return int(found.group(1))


BLOCK_W, BLOCK_H = editor_size("BLOCK_W"), editor_size("BLOCK_H")


def laid_out() -> list[str]:
    """The templates whose file gives positions (the others are laid out by the editor)."""
    return [
        t["id"]
        for t in list_templates()
        if "layout" in yaml.safe_load((TEMPLATES / t["path"]).read_text(encoding="utf-8"))
    ]


def parents(blocks: dict[str, Any]) -> dict[str, str | None]:
    found: dict[str, str | None] = dict.fromkeys(blocks)
    for bid, block in blocks.items():
        members = list(block.get("body") or [])
        for branch in (block.get("branches") or {}).values():
            members += branch
        for member in members:
            found[member] = bid
    return found


def box(entry: list[int]) -> tuple[int, int, int, int]:
    x, y, *size = entry
    w, h = size or (BLOCK_W, BLOCK_H)
    return x, y, x + w, y + h


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def test_the_templates_with_a_layout_are_the_ones_checked() -> None:
    assert {"order_processing", "replay_events"} <= set(laid_out())


@pytest.mark.parametrize("template", laid_out())
def test_every_block_has_a_place_inside_its_container_and_over_no_other(template: str) -> None:
    doc = yaml.safe_load((TEMPLATES / template / "workflow.yaml").read_text())
    blocks, layout = doc["blocks"], doc["layout"]
    assert set(layout) == set(blocks)
    parent = parents(blocks)
    for bid, outer in parent.items():
        if bid in set(parent.values()):
            # Without a size the editor fits a container to its body: not checkable here.
            assert len(layout[bid]) == 4, (bid, layout[bid])
        if outer is not None:
            inner, around = box(layout[bid]), box(layout[outer])
            assert around[0] < inner[0] and inner[2] < around[2], (bid, outer)
            assert around[1] + TITLE_H <= inner[1] and inner[3] < around[3], (bid, outer)
    ids = list(blocks)
    for i, one in enumerate(ids):
        for other in ids[i + 1 :]:
            if parent[one] == parent[other]:
                assert not overlap(box(layout[one]), box(layout[other])), (one, other)
