"""Working on the canvas in a real browser (Debian's chromium, as in
test_browser_editor.py): blocks sit above edges, code fields behave like code,
zoom / fit controls, and a palette click adds a block where the user is looking.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import center, connect, node, open_editor, select

pytestmark = BROWSER_TESTS

ROOT = Path(__file__).resolve().parents[2]
ORDER_YAML = ROOT / "templates" / "order_processing" / "workflow.yaml"


@pytest.fixture
def scratch(workflows_dir: Path) -> Iterator[Callable[[str, str], Path]]:
    """Write ``workflows/<name>.yaml`` with its ``name:`` (and Order Processing's
    webhook path) made unique: other tests share this workspace. Removed after."""
    made: list[Path] = []

    def write(name: str, text: str) -> Path:
        text = re.sub(r"(?m)^name: .*$", f"name: {name}", text, count=1)
        text = text.replace("path: orders/events", f"path: {name}/events")
        path = workflows_dir / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        made.append(path)
        return path

    yield write
    for path in made:
        path.unlink(missing_ok=True)


def selected_bid(page: Any) -> Any:
    return page.locator("#props-form")


# Two rows of three blocks; in each an edge runs from the first to the third,
# straight through the middle one (one edge from the file, one drawn by hand).
ROWS = """\
version: 1
name: rows
blocks:
  a: {type: manual}
  b: {type: function, code: 'return {"b": 1}'}
  c: {type: function, code: 'return {"c": 1}'}
  d: {type: manual}
  e: {type: function, code: 'return {"e": 1}'}
  f: {type: function, code: 'return {"f": 1}'}
edges:
  - d -> f
layout: {a: [40, 60], b: [300, 60], c: [560, 60], d: [40, 260], e: [300, 260], f: [560, 260]}
"""


def test_a_click_on_a_block_under_an_edge_selects_the_block(page: Any, scratch: Any) -> None:
    scratch("edge_over_block", ROWS)
    open_editor(page, "edge_over_block")
    connect(page, "a", "c")
    expect(page.locator("g.x6-edge")).to_have_count(2)
    for bid in ("b", "e"):
        x, y = center(node(page, bid).bounding_box())
        page.mouse.click(x, y)
        expect(selected_bid(page)).to_have_attribute("data-bid", bid)


CODE = """\
version: 1
name: code
blocks:
  start: {type: manual}
  add:
    type: function
    code: |
      return {"sum": 1 + 2}
  rows:
    type: database
    query: select 1
edges:
  - start -> add
  - add -> rows
"""


def test_code_fields_are_monospace_unwrapped_and_take_tab(page: Any, scratch: Any) -> None:
    path = scratch("code_fields", CODE)
    open_editor(page, "code_fields")
    style = "e => { const s = getComputedStyle(e); return [s.fontFamily, s.whiteSpace]; }"
    select(page, "rows")
    font, white = page.locator("#props-form [data-field='query']").evaluate(style)
    assert "monospace" in font and white == "pre", (font, white)

    select(page, "add")
    code = page.locator("#props-form [data-field='code']")
    font, white = code.evaluate(style)
    assert "monospace" in font and white == "pre", (font, white)
    # A long line scrolls sideways instead of wrapping.
    code.fill("total = " + " + ".join(["value"] * 40))
    assert code.evaluate("e => e.scrollWidth > e.clientWidth + 50")

    # Tab indents (4 spaces) and stays in the field; Shift+Tab leaves it.
    code.fill("if True:")
    code.press("End")
    code.press("Enter")
    code.press("Tab")
    code.press_sequentially('return {"sum": 3}')
    assert code.input_value() == 'if True:\n    return {"sum": 3}'
    assert page.evaluate("document.activeElement.dataset.field") == "code"
    code.press("Shift+Tab")
    assert page.evaluate("document.activeElement.dataset.field") != "code"

    # Escape leaves the field too, committing it.
    code.fill('return {"sum": 4}')
    code.press("Escape")
    assert page.evaluate("document.activeElement.dataset.field") != "code"
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert yaml.safe_load(path.read_text())["blocks"]["add"]["code"] == 'return {"sum": 4}'


NODE_BOXES = "els => els.map((e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })"


def outside(page: Any) -> list[Any]:
    """The blocks not wholly inside the visible canvas."""
    c = page.locator("#canvas").bounding_box()
    left, top, right, bottom = c["x"], c["y"], c["x"] + c["width"], c["y"] + c["height"]
    boxes = page.locator("g.x6-node").evaluate_all(NODE_BOXES)
    assert boxes
    return [b for b in boxes if b[0] < left or b[1] < top or b[2] > right or b[3] > bottom]


def test_zoom_and_fit_controls_at_1024x700(page: Any, scratch: Any) -> None:
    page.set_viewport_size({"width": 1024, "height": 700})
    scratch("zoom_order", ORDER_YAML.read_text())
    open_editor(page, "zoom_order")
    assert outside(page) == []  # fitted on load: the whole graph is in view

    width = node(page, "enrich").bounding_box()["width"]
    page.click("#btn-zoom-in")
    bigger = node(page, "enrich").bounding_box()["width"]
    assert bigger > width * 1.1
    page.click("#btn-zoom-out")
    page.click("#btn-zoom-out")
    assert node(page, "enrich").bounding_box()["width"] < bigger / 1.1

    for _ in range(4):
        page.click("#btn-zoom-in")
    assert outside(page) != []
    page.click("#btn-fit")
    assert outside(page) == []


def long_chain(count: int) -> str:
    ids = [f"step_{i}" for i in range(count)]
    blocks = "".join(f"  {b}: {{type: function, code: 'return {{}}'}}\n" for b in ids[1:])
    edges = "".join(f"  - {a} -> {b}\n" for a, b in zip(ids, ids[1:], strict=False))
    layout = ", ".join(f"{b}: [{40 + 260 * i}, 80]" for i, b in enumerate(ids))
    return (
        f"version: 1\nname: chain\nblocks:\n  step_0: {{type: manual}}\n{blocks}"
        f"edges:\n{edges}layout: {{{layout}}}\n"
    )


def shown_zoom(page: Any) -> float:
    """The canvas's zoom, read off a block's drawn width (170 at 100%, its outline
    a pixel more)."""
    return node(page, "step_1").locator("rect").first.bounding_box()["width"] / 170


def test_fit_never_zooms_below_the_least_zoom(page: Any, scratch: Any) -> None:
    """At 800x800 Fit zoomed a long workflow to 15%, below the documented 20%, and
    "−" then zoomed in to 20%."""
    page.set_viewport_size({"width": 800, "height": 800})
    scratch("fit_floor", long_chain(30))
    open_editor(page, "fit_floor")
    # Too long to fit at all: it opens readable at its left end.
    assert shown_zoom(page) == pytest.approx(0.7, abs=0.01)
    page.click("#btn-fit")
    assert shown_zoom(page) == pytest.approx(0.2, abs=0.01)
    page.click("#btn-zoom-out")
    assert shown_zoom(page) == pytest.approx(0.2, abs=0.01)
    page.click("#btn-zoom-in")
    assert shown_zoom(page) == pytest.approx(0.25, abs=0.01)


def test_a_click_on_a_palette_item_adds_the_block_in_view(page: Any, scratch: Any) -> None:
    scratch("palette_click", ROWS)
    open_editor(page, "palette_click")
    # Pan (drag the blank canvas) so the visible centre is not the graph's.
    box = page.locator("#canvas").bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + box["height"] - 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 250, box["y"] + box["height"] - 190, steps=5)
    page.mouse.up()
    page.click(".palette-item[data-type='http']")
    expect(selected_bid(page)).to_have_attribute("data-bid", "http")
    cx, cy = center(box)
    nx, ny = center(node(page, "http").bounding_box())
    assert abs(nx - cx) < 20 and abs(ny - cy) < 20, ((nx, ny), (cx, cy))

    # A second click adds another, selected, not hidden exactly under the first.
    page.click(".palette-item[data-type='http']")
    expect(selected_bid(page)).to_have_attribute("data-bid", "http_2")
    assert node(page, "http_2").bounding_box() != node(page, "http").bounding_box()
    page.click("#btn-undo")
    expect(node(page, "http_2")).to_have_count(0)


NO_LAYOUT = """\
version: 1
name: {name}
blocks:
  start: {{type: manual}}
  lp: {{type: loop, count: 2, body: [a, b, c]}}
  a: {{type: function, code: "return 1"}}
  b: {{type: function, code: "return 2"}}
  c: {{type: function, code: "return 3"}}
  other: {{type: function, code: "return 4"}}
  third: {{type: function, code: "return 5"}}
  after: {{type: function, code: "return 6"}}
edges:
  - start -> lp
  - start -> other
  - start -> third
  - a -> b
  - lp -> after
"""


def test_blocks_without_a_layout_are_never_placed_over_a_container(page: Any, scratch: Any) -> None:
    """`other` (beside the loop in its column) was drawn inside the loop's box, and a
    5 px drag made it a member of the body."""
    scratch("no_layout", NO_LAYOUT.format(name="no_layout"))
    open_editor(page, "no_layout")

    def box(cell: str) -> dict[str, float]:
        found = node(page, cell).bounding_box()
        assert found is not None, cell
        return found

    def overlap(p: dict[str, float], q: dict[str, float]) -> bool:
        return not (
            p["x"] + p["width"] <= q["x"]
            or q["x"] + q["width"] <= p["x"]
            or p["y"] + p["height"] <= q["y"]
            or q["y"] + q["height"] <= p["y"]
        )

    top = ["start", "lp", "other", "third", "after"]
    for i, one in enumerate(top):
        for other in top[i + 1 :]:
            assert not overlap(box(one), box(other)), (one, other)
    loop = box("lp")
    for inner in ("a", "b", "c"):  # the body's blocks inside their container
        b = box(inner)
        assert loop["x"] < b["x"] and b["x"] + b["width"] < loop["x"] + loop["width"], inner
        assert loop["y"] < b["y"] and b["y"] + b["height"] < loop["y"] + loop["height"], inner


def test_a_file_whose_bodies_contain_each_other_still_opens(page: Any, scratch: Any) -> None:
    """Invalid, but it opens to be fixed: drawing it recursed until the page died."""
    scratch(
        "body_cycle",
        "name: body_cycle\nblocks:\n  a: {type: loop, count: 1, body: [b]}\n"
        "  b: {type: loop, count: 1, body: [a]}\n  c: {type: loop, count: 1, body: [c]}\n",
    )
    open_editor(page, "body_cycle")
    for cell in ("a", "b", "c"):
        assert node(page, cell).count() == 1, cell
