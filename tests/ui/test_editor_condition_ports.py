"""A condition's ports follow its cases in a real browser (Debian's chromium, as in
test_browser_editor.py): a renamed case keeps its edges, and an edge whose port is
gone is never dropped unseen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, save, select, set_field

pytestmark = BROWSER_TESTS

ROUTE = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  route:
    type: condition
    cases:
      - name: paid
        if: <start.event?> == "payment_received"
      - name: refunded
        if: <start.event?> == "refund"
  capture:
    type: function
    code: |
      return {{"captured": True}}
  refund:
    type: function
    code: |
      return {{"refunded": True}}
  log:
    type: function
    code: |
      return {{"logged": True}}
edges:
  - start -> route
  - route.paid -> capture
  - route.refunded -> refund
  - route.else -> log
"""

CASES = """[
  {{"name": "{first}", "if": "<start.event?> == \\"payment_received\\""}},
  {{"name": "refunded", "if": "<start.event?> == \\"refund\\""}}
]"""

# The condition's out ports, in order, and the edges leaving it.
PORTS = """() => {
  const g = window.flowyardEditor.graph;
  const n = g.getNodes().find((c) => c.getData().bid === 'route');
  const edges = g.getEdges().filter((e) => e.getSourceCellId() === n.id).map(
    (e) => `${e.getSourcePortId()} -> ${g.getCellById(e.getTargetCellId()).getData().bid}`);
  return [n.getPorts().filter((p) => p.group === 'out').map((p) => p.id), edges.sort()];
}"""


def saved(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_renaming_a_case_and_else_keeps_their_edges_in_the_cases_order(
    page: Any, scratch: Any
) -> None:
    """`route.paid -> capture` disappeared on save: capture became an entry block,
    run on every run; the ports came out `paid, else, settled`."""
    path = scratch("case_rename", ROUTE)
    original = path.read_text()
    open_editor(page, "case_rename")
    select(page, "route")
    set_field(page, "cases", CASES.format(first="settled"))
    set_field(page, "else", "other")
    renamed = [
        ["settled", "refunded", "other"],
        ["other -> log", "refunded -> refund", "settled -> capture"],
    ]
    assert page.evaluate(PORTS) == renamed
    save(page)
    expect(page.locator("#status")).to_have_text("Saved")
    doc = saved(path)
    assert doc["edges"] == [
        "start -> route",
        "route.settled -> capture",
        "route.refunded -> refund",
        "route.other -> log",
    ]
    assert [c["name"] for c in doc["blocks"]["route"]["cases"]] == ["settled", "refunded"]
    assert doc["blocks"]["route"]["else"] == "other"

    # Undone (the else, then the case) and redone, the edges stay on their ports.
    page.click("#btn-undo")
    page.click("#btn-undo")
    assert page.evaluate(PORTS) == [
        ["paid", "refunded", "else"],
        ["else -> log", "paid -> capture", "refunded -> refund"],
    ]
    save(page)
    expect(page.locator("#status")).to_have_text("Saved")
    assert saved(path) == yaml.safe_load(original)  # the edges in their places too
    page.click("#btn-redo")
    page.click("#btn-redo")
    assert page.evaluate(PORTS) == renamed


def test_a_deleted_case_says_which_edge_went_with_it(page: Any, scratch: Any) -> None:
    path = scratch("case_delete", ROUTE)
    original = path.read_text()
    open_editor(page, "case_delete")
    select(page, "route")
    set_field(page, "cases", '[{"name": "paid", "if": "<start.event?> == 1"}]')
    assert page.evaluate(PORTS) == [["paid", "else"], ["else -> log", "paid -> capture"]]
    expect(page.locator("#status")).to_contain_text("Removed route.refunded -> refund")

    page.click("#btn-undo")  # the case, its port and its edge: one step
    assert page.evaluate(PORTS) == [
        ["paid", "refunded", "else"],
        ["else -> log", "paid -> capture", "refunded -> refund"],
    ]
    save(page)
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original

    page.click("#btn-redo")
    assert page.evaluate(PORTS) == [["paid", "else"], ["else -> log", "paid -> capture"]]
