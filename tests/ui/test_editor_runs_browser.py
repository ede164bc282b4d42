"""Running from the editor (real Chromium): what the status line and the problems
list say when the Run… dialog's input is refused, and how the canvas colours a run.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor

pytestmark = BROWSER_TESTS

#: A manual trigger whose input_schema wants a whole number `n`.
NEEDS_N = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
    input_schema:
      type: object
      required: [n]
      properties:
        n: {{type: integer}}
  double:
    type: function
    code: |
      return {{"twice": input.start.n * 2}}
edges:
  - start -> double
"""


def run_with(page: Any, text: str) -> None:
    page.click("#btn-run")
    page.fill("#run-input", text)
    page.click("#run-start")


def test_an_input_the_input_schema_refuses_is_said_and_cleared_by_a_later_run(
    page: Any, scratch: Any
) -> None:
    """The API answers these problems as plain strings: the list showed "1 problem"
    with an empty bullet, under "Cannot run: fix the problems first"."""
    scratch("ed_needs_n", NEEDS_N)
    open_editor(page, "ed_needs_n")
    run_with(page, '{"n": "seven"}')
    expect(page.locator("#status")).to_contain_text("Input refused")
    expect(page.locator("#status")).to_contain_text("input_schema")
    problems = page.locator("#problem-list li")
    expect(problems).to_have_count(1)
    expect(problems.first).to_have_text("n: 'seven' is not of type 'integer'")
    expect(page.locator("#problems h3")).to_have_text("1 problem")

    run_with(page, '{"n": 7}')
    expect(page.locator("#run-state.succeeded")).to_be_visible(timeout=30_000)
    expect(page.locator("#problems")).to_be_hidden()
    expect(page.locator("#problem-list li")).to_have_count(0)
