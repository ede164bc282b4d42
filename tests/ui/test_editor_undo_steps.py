"""One edit on the canvas is one undo step that brings all of it back, in a real
browser (Debian's chromium, as in test_browser_editor.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import node, open_editor, select

pytestmark = BROWSER_TESTS

NESTED = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  outer:
    type: loop
    count: 2
    body: [a, inner]
  a:
    type: function
    code: |
      return {{"a": 1}}
  inner:
    type: parallel
    branches:
      left: [b]
  b:
    type: function
    code: |
      return {{"b": 2}}
  after:
    type: function
    code: |
      return {{"done": True}}
edges:
  - start -> outer
  - a -> inner
  - outer -> after
"""

# Each block's id and its container's (null: top level).
PARENTS = """() => Object.fromEntries(window.flowyardEditor.graph.getNodes().map(
  (n) => [n.getData().bid, n.getParent() ? n.getParent().getData().bid : null]))"""


def saved(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_deleting_a_container_deletes_what_it_holds_in_one_undo_step(
    page: Any, scratch: Any
) -> None:
    """Its blocks stayed behind as unconnected top-level blocks, run on every run."""
    path = scratch("delete_container", NESTED)
    original = path.read_text()
    open_editor(page, "delete_container")
    select(page, "outer", position={"x": 12, "y": 12})
    page.click("#delete-block")
    expect(page.locator("g.x6-node")).to_have_count(2)
    assert page.evaluate(PARENTS) == {"start": None, "after": None}

    page.click("#btn-undo")  # once: the containers, their blocks and the edges
    expect(page.locator("g.x6-node")).to_have_count(6)
    expect(page.locator("g.x6-edge")).to_have_count(3)
    assert page.evaluate(PARENTS) == {
        "start": None,
        "outer": None,
        "a": "outer",
        "inner": "outer",
        "b": "inner",
        "after": None,
    }
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original

    page.click("#btn-redo")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert list(saved(path)["blocks"]) == ["start", "after"]
    assert saved(path)["edges"] == []


def test_the_delete_key_on_a_container_deletes_what_it_holds(page: Any, scratch: Any) -> None:
    path = scratch("delete_key_container", NESTED)
    open_editor(page, "delete_key_container")
    select(page, "inner", position={"x": 12, "y": 12})
    page.keyboard.press("Delete")
    expect(node(page, "b")).to_have_count(0)
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    doc = saved(path)
    assert list(doc["blocks"]) == ["start", "outer", "a", "after"]
    assert doc["blocks"]["outer"]["body"] == ["a"]
    assert doc["edges"] == ["start -> outer", "outer -> after"]


ON_ERROR = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  risky:
    type: function
    code: |
      return {{"n": 1 / 0}}
    on_error: continue
  handled:
    type: function
    code: |
      return {{"handled": True}}
  check:
    type: condition
    cases:
      - name: big
        if: <start.n?> == 2
    else: small
  a:
    type: function
    code: |
      return {{"a": 1}}
  b:
    type: function
    code: |
      return {{"b": 1}}
edges:
  - start -> risky
  - risky.error -> handled
  - start -> check
  - check.big -> a
  - check.small -> b
"""

# The block's config, its out ports and the edges leaving it.
STATE = """(bid) => {
  const g = window.flowyardEditor.graph;
  const n = g.getNodes().find((c) => c.getData().bid === bid);
  const edges = g.getEdges().filter((e) => e.getSourceCellId() === n.id).map(
    (e) => `${e.getSourcePortId()} -> ${g.getCellById(e.getTargetCellId())?.getData().bid}`);
  return [n.getData().config, n.getPorts().filter((p) => p.group === 'out').map((p) => p.id), edges.sort()];
}"""


def test_an_edit_that_removes_a_port_is_one_undo_step(page: Any, scratch: Any) -> None:
    """on_error back to fail removes the error port and its edge: the first Undo
    brought the port back without its edge and left on_error at fail; it took three."""
    path = scratch("undo_port_edit", ON_ERROR)
    original = path.read_text()
    open_editor(page, "undo_port_edit")
    before = page.evaluate(STATE, "risky")
    assert before[1:] == [["out", "error"], ["error -> handled"]]
    select(page, "risky")
    page.select_option("#prop-on_error", "fail")
    expect(page.locator("g.x6-edge")).to_have_count(4)
    config, ports, edges = page.evaluate(STATE, "risky")
    assert (config["on_error"], ports, edges) == ("fail", ["out"], [])

    page.click("#btn-undo")  # once: the config, the port and the edge
    expect(page.locator("g.x6-edge")).to_have_count(5)
    assert page.evaluate(STATE, "risky") == before
    expect(page.locator("#prop-on_error")).to_have_value("continue")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original

    page.click("#btn-redo")  # once: all of it again
    expect(page.locator("g.x6-edge")).to_have_count(4)
    config, ports, edges = page.evaluate(STATE, "risky")
    assert (config["on_error"], ports, edges) == ("fail", ["out"], [])


def test_renaming_a_condition_port_is_one_undo_step(page: Any, scratch: Any) -> None:
    path = scratch("undo_else_edit", ON_ERROR)
    original = path.read_text()
    open_editor(page, "undo_else_edit")
    before = page.evaluate(STATE, "check")
    assert before[1:] == [["big", "small"], ["big -> a", "small -> b"]]
    select(page, "check")
    field = page.locator("#props-form [data-field='else']")
    field.fill("rest")
    field.dispatch_event("change")
    # The renamed port keeps its edge (it had been dropped, unseen).
    assert page.evaluate(STATE, "check")[1:] == [["big", "rest"], ["big -> a", "rest -> b"]]

    page.click("#btn-undo")
    assert page.evaluate(STATE, "check") == before
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original
