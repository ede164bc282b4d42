"""Loop and Parallel boxes show what their body holds, in a real browser (Debian's
chromium, as in test_browser_editor.py): what a container covers wholly is in it."""

from __future__ import annotations

import json
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import drop, node, open_editor, select, set_field

pytestmark = BROWSER_TESTS

# Each block's id and its container's (null: top level).
PARENTS = """() => Object.fromEntries(window.flowyardEditor.graph.getNodes().map(
  (n) => [n.getData().bid, n.getParent() ? n.getParent().getData().bid : null]))"""


def sent(page: Any) -> dict[str, Any]:
    """The document Save sends (whether or not the server takes it)."""
    with page.expect_request(lambda r: r.method == "PUT") as request:
        page.click("#btn-save")
    return json.loads(request.value.post_data)


def test_a_container_dropped_over_blocks_takes_those_it_covers(
    page: Any,
) -> None:
    """The loop drew `function` inside it while the file kept it top level (run on
    every run); `beside`, only partly covered, stays out, drawn across the border."""
    open_editor(page, "drop_over_blocks")
    drop(page, "manual", 60, 60)
    drop(page, "function", 380, 260)
    drop(page, "function", 600, 420)
    node(page, "function_2").wait_for()
    # The loop's top-left lands 40, 20 above the pointer: it covers (260, 180) to (680, 420).
    drop(page, "loop", 300, 200)
    node(page, "loop_1").wait_for()
    assert page.evaluate(PARENTS) == {
        "manual": None,
        "function": "loop_1",
        "function_2": None,
        "loop_1": None,
    }
    assert sent(page)["blocks"]["loop_1"]["body"] == ["function"]

    page.click("#btn-undo")  # the loop and what it took, one step
    assert page.evaluate(PARENTS) == {"manual": None, "function": None, "function_2": None}


MOVED = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  lone:
    type: function
    code: |
      return {{"n": 1}}
  fold:
    type: loop
    count: 2
    body: []
edges:
  - start -> lone
layout: {{start: [40, 40], lone: [100, 200], fold: [500, 150, 420, 240]}}
"""


def test_a_container_moved_over_a_block_takes_it(page: Any, scratch: Any) -> None:
    scratch("move_over_block", MOVED)
    open_editor(page, "move_over_block")
    page.click("#btn-zoom-out")  # scale and position as the view has them
    fold = node(page, "fold").bounding_box()
    lone = node(page, "lone").bounding_box()
    # Grab the loop by its top-left corner and put it 40, 30 above-left of `lone`.
    sx, sy = fold["x"] + 12, fold["y"] + 12
    tx, ty = lone["x"] - 40 + 12, lone["y"] - 30 + 12
    page.mouse.move(sx, sy)
    page.mouse.down()
    page.mouse.move(tx, ty, steps=10)
    page.mouse.up()
    assert page.evaluate(PARENTS) == {"start": None, "lone": "fold", "fold": None}
    assert sent(page)["blocks"]["fold"]["body"] == ["lone"]


FAN = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  fan:
    type: parallel
    branches:
      a: [x]
  x:
    type: function
    code: 'return {{"x": 1}}'
  y:
    type: function
    code: 'return {{"y": 1}}'
edges: [start -> fan]
"""


def test_a_block_typed_into_a_parallels_branches_joins_it(page: Any, scratch: Any) -> None:
    """`y` was left out of the saved branches without a word, and the save was then
    refused: "branch 'b' has no blocks"."""
    path = scratch("typed_branches", FAN)
    open_editor(page, "typed_branches")
    select(page, "fan", position={"x": 12, "y": 12})
    set_field(page, "branches", '{"a": ["x"], "b": ["y"]}')
    assert page.evaluate(PARENTS) == {"start": None, "fan": None, "x": "fan", "y": "fan"}
    inside = """() => { const g = window.flowyardEditor.graph;
      const box = (b) => g.getNodes().find((n) => n.getData().bid === b).getBBox();
      return box('fan').containsRect(box('y')); }"""
    assert page.evaluate(inside)
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert yaml.safe_load(path.read_text())["blocks"]["fan"]["branches"] == {
        "a": ["x"],
        "b": ["y"],
    }

    page.click("#btn-undo")  # the field and the move: one step
    assert page.evaluate(PARENTS) == {"start": None, "fan": None, "x": "fan", "y": None}


HELD = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  fold:
    type: loop
    count: 2
    body: [inner]
  inner:
    type: function
    code: |
      return {{"n": 1}}
edges:
  - start -> fold
layout: {{start: [40, 40], fold: [300, 40, 420, 240], inner: [340, 100]}}
"""

# A block's box in canvas units (whole: as the layout saves them).
BOX = """(bid) => { const n = window.flowyardEditor.graph.getNodes().find(
  (c) => c.getData().bid === bid); const b = n.getBBox();
  return [b.x, b.y, b.width, b.height].map(Math.round); }"""


def drag(page: Any, start: tuple[float, float], by: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + by[0], start[1] + by[1], steps=10)
    page.mouse.up()


def test_a_container_resizes_from_its_corner_never_smaller_than_what_it_holds(
    page: Any, scratch: Any
) -> None:
    """There was no handle: a loop stayed 420 x 240 whatever it held."""
    scratch("resize_loop", HELD)
    open_editor(page, "resize_loop")
    select(page, "fold", position={"x": 12, "y": 12})
    handle = page.locator(".x6-widget-transform-resize[data-position='bottom-right']")
    expect(handle).to_be_visible()
    # The other handles are hidden: the right one sat on the loop's `out` port.
    expect(page.locator(".x6-widget-transform-resize:visible")).to_have_count(1)
    box = handle.bounding_box()
    drag(page, (box["x"] + 5, box["y"] + 5), (120, 90))
    grown = page.evaluate(BOX, "fold")
    x, y, width, height = grown
    assert (x, y) == (300, 40) and width > 420 and height > 240

    box = handle.bounding_box()
    drag(page, (box["x"] + 5, box["y"] + 5), (-900, -900))  # as small as it goes
    x, y, width, height = page.evaluate(BOX, "fold")
    ix, iy, iw, ih = page.evaluate(BOX, "inner")
    assert (x, y) == (300, 40)
    assert (width, height) == (ix + iw + 20 - x, iy + ih + 20 - y)  # `inner` still inside
    assert page.evaluate(PARENTS)["inner"] == "fold"
    assert sent(page)["layout"]["fold"] == [300, 40, width, height]
    page.click("#btn-undo")  # one step back: the size before
    assert page.evaluate(BOX, "fold") == grown


def test_a_body_block_dragged_across_the_edge_stays_and_the_container_grows(
    page: Any, scratch: Any
) -> None:
    """Dragged near the loop's edge, `inner` left the body (drawn across the border,
    top level in the file)."""
    scratch("drag_to_edge", HELD)
    open_editor(page, "drag_to_edge")
    inner = node(page, "inner").bounding_box()
    fold = node(page, "fold").bounding_box()
    grab = (inner["x"] + 12, inner["y"] + 8)
    # Its right part past the loop's right edge, its centre still inside.
    past = fold["x"] + fold["width"] - (inner["x"] + inner["width"]) + inner["width"] * 0.3
    drag(page, grab, (past, 0))
    assert page.evaluate(PARENTS)["inner"] == "fold"
    fx, fy, fw, fh = page.evaluate(BOX, "fold")
    ix, iy, iw, ih = page.evaluate(BOX, "inner")
    assert ix + iw <= fx + fw and iy + ih <= fy + fh  # the loop grew to hold it

    # Wholly out, it leaves the body.
    inner = node(page, "inner").bounding_box()
    drag(page, (inner["x"] + 12, inner["y"] + 8), (0, fold["height"] + 60))
    assert page.evaluate(PARENTS)["inner"] is None


LONE_PARALLEL = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  par:
    type: parallel
    branches: {{}}
edges:
  - start -> par
layout: {{start: [-200, 160], par: [100, 100, 420, 240]}}
"""


def test_a_container_dropped_into_another_keeps_its_header_and_ports_clear(
    page: Any, scratch: Any
) -> None:
    """A Loop dropped near a Parallel's top-left covered the Parallel's label (a
    20px strip left to select it by), and the two `in` ports ended 10px apart, so a
    drag aimed at one landed on the other."""
    scratch("drop_into_parallel", LONE_PARALLEL)
    open_editor(page, "drop_into_parallel")
    canvas = page.locator("#canvas").bounding_box()
    par = node(page, "par").locator("rect").first.bounding_box()
    drop(page, "loop", par["x"] - canvas["x"] + 60, par["y"] - canvas["y"] + 30)
    node(page, "loop_1").wait_for()
    assert page.evaluate(PARENTS)["loop_1"] == "par"
    px, py, pw, ph = page.evaluate(BOX, "par")
    lx, ly, lw, lh = page.evaluate(BOX, "loop_1")
    assert px < lx and py < ly and lx + lw < px + pw and ly + lh < py + ph
    # Each port further from the other than the 24px a dragged edge snaps to.
    in_ports = ((px, py + ph / 2), (lx, ly + lh / 2))
    out_ports = ((px + pw, py + ph / 2), (lx + lw, ly + lh / 2))
    for (ax, ay), (bx, by) in (in_ports, out_ports):
        assert ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 > 30
    # The Parallel's label shows above the loop, and a click on it selects the Parallel.
    label = node(page, "par").locator("text").first.bounding_box()
    loop_top = node(page, "loop_1").locator("rect").first.bounding_box()["y"]
    assert label["y"] + label["height"] <= loop_top
    page.mouse.click(label["x"] + 4, label["y"] + label["height"] / 2)
    page.wait_for_selector("#props-form[data-bid='par']")
