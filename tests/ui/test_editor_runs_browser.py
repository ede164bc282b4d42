"""Running from the editor (real Chromium): what the status line and the problems
list say when the Run… dialog's input is refused, and how the canvas colours a run.
"""

from __future__ import annotations

import re
from pathlib import Path
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


#: `hold` waits for its flag file (the run is seen running); its check then takes
#: `true`, so the `fold` loop on `false` is skipped, `inner` in its body with it.
SKIPS_A_LOOP = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  hold:
    type: function
    timeout: 30
    code: |
      import pathlib, time
      for _ in range(250):
          if pathlib.Path({flag!r}).exists():
              return {{"n": 1}}
          time.sleep(0.1)
      raise RuntimeError("the flag file never came")
  check:
    type: condition
    if: <hold.n> == 1
  done:
    type: function
    code: |
      return {{"ok": True}}
  fold:
    type: loop
    items: [1, 2]
    as: i
    body: [inner]
  inner:
    type: function
    code: |
      return {{"i": <i>}}
edges:
  - start -> hold
  - hold -> check
  - check.true -> done
  - check.false -> fold
"""


def status_of(page: Any, cell: str) -> Any:
    return page.locator(f"g.x6-node[data-cell-id='{cell}'] [data-status]").first


def test_the_run_badge_says_running_and_a_skipped_loop_greys_its_body(
    page: Any, scratch: Any, tmp_path: Path
) -> None:
    """The badge said `started` (run_started's suffix) where the run viewer says
    `running`; a skipped container's body blocks, which get no event, stayed
    uncoloured."""
    flag = tmp_path / "flag"
    scratch("ed_skips_loop", SKIPS_A_LOOP.replace("{flag!r}", repr(str(flag))))
    open_editor(page, "ed_skips_loop")
    run_with(page, "{}")
    expect(page.locator("#run-state")).to_have_text("running", timeout=30_000)
    expect(page.locator("#run-state")).to_have_class(re.compile(r"\bbadge running\b"))
    flag.touch()
    expect(page.locator("#run-state")).to_have_text("succeeded", timeout=30_000)
    expect(status_of(page, "done")).to_have_attribute("data-status", "succeeded")
    expect(status_of(page, "fold")).to_have_attribute("data-status", "skipped")
    expect(status_of(page, "inner")).to_have_attribute("data-status", "skipped")


def test_run_with_an_invalid_unsaved_edit_says_the_run_did_not_start(
    page: Any, scratch: Any
) -> None:
    """Save and run with an edit the server refuses said "Not saved: 1 problem(s)"
    and nothing said that the run had not started."""
    path = scratch("ed_invalid_run", NEEDS_N)
    before = path.read_text()
    open_editor(page, "ed_invalid_run")
    page.locator("g.x6-node[data-cell-id='double']").click(position={"x": 24, "y": 8})
    code = page.locator("#props-form [data-field='code']")
    code.fill("return <nosuch.x>")
    page.click("#prop-id")  # leaves the field: it commits
    run_with(page, '{"n": 7}')
    expect(page.locator("#status")).to_have_text("Cannot run: fix the problems first")
    expect(page.locator("#problem-list li")).to_have_count(1)
    expect(page.locator("#problem-list li").first).to_contain_text("nosuch")
    expect(page.locator("#run-link")).to_have_count(0)
    assert path.read_text() == before
