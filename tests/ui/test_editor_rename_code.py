"""Renaming a block in the editor renames Function code's reads of it (``input.old``,
``input["old"]``), in a real browser (Debian's chromium, as in test_browser_editor.py).
Only ``<old…>`` references were renamed: the save passed and the run failed with
"AttributeError: no field 'manual'"."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, select

pytestmark = BROWSER_TESTS

READS = """\
version: 1
name: {name}
blocks:
  manual:
    type: manual
  py:
    type: function
    code: |
      # input.manual: the run's input
      note = "input.manual stays text"
      n = input.manual.n + input["manual"]["n"] + input['manual']['n']
      return {{"n": n, "note": note, "f": f"{{input.manual.n}} input.manual"}}
  js:
    type: function
    language: javascript
    code: |
      // input.manual: the run's input
      return {{n: input.manual.n + input?.manual.n + input["manual"].n, note: 'input.manual'}}
  both:
    type: function
    code: |
      return {{"py": input.py, "js": input.js}}
edges:
  - manual -> py
  - manual -> js
  - py -> both
  - js -> both
output: <both>
"""


def test_renaming_a_block_renames_the_reads_of_it_in_function_code(
    page: Any, scratch: Any, client: FlaskClient, auth: dict[str, str]
) -> None:
    path = scratch("rename_reads", READS)
    open_editor(page, "rename_reads")
    select(page, "manual")
    page.fill("#prop-id", "start")
    page.press("#prop-id", "Tab")  # commits the id
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    blocks = yaml.safe_load(path.read_text())["blocks"]
    assert blocks["py"]["code"] == (
        "# input.manual: the run's input\n"  # a comment and a string are text
        'note = "input.manual stays text"\n'
        "n = input.start.n + input[\"start\"][\"n\"] + input['start']['n']\n"
        'return {"n": n, "note": note, "f": f"{input.start.n} input.manual"}\n'
    )
    assert blocks["js"]["code"] == (
        "// input.manual: the run's input\n"
        "return {n: input.start.n + input?.start.n + input[\"start\"].n, note: 'input.manual'}\n"
    )

    answer = client.post("/api/workflows/rename_reads/runs?wait=1", json={"n": 2}, headers=auth)
    result = answer.get_json()
    assert result["status"] == "succeeded", result
    assert result["output"]["py"] == {
        "n": 6,
        "note": "input.manual stays text",
        "f": "2 input.manual",
    }
    assert result["output"]["js"] == {"n": 6, "note": "input.manual"}

    # One Undo puts the code back with the id.
    page.click("#btn-undo")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == READS.format(name="rename_reads")


# (language, code, the code after renaming `manual` to `start`)
CASES = [
    ("python", "input.manual_x + input.manuals", "input.manual_x + input.manuals"),
    ("python", "myinput.manual + self.input.manual", "myinput.manual + self.input.manual"),
    ("python", "input . manual", "input . start"),
    ("python", "input.get('manual')", "input.get('manual')"),
    (
        "python",
        "'''a\ninput.manual''' + r'input.manual'",
        "'''a\ninput.manual''' + r'input.manual'",
    ),
    ("python", "f\"{input['manual']} {{input.manual}}\"", "f\"{input['start']} {{input.manual}}\""),
    ("python", "x = 'manual'  # input.manual", "x = 'manual'  # input.manual"),
    ("javascript", "`${input.manual.n} input.manual`", "`${input.start.n} input.manual`"),
    ("javascript", "`${ {a: input.manual}.a }`", "`${ {a: input.start}.a }`"),
    (
        "javascript",
        "/input.manual['\"]/.test(s) + input.manual",
        "/input.manual['\"]/.test(s) + input.start",
    ),
    ("javascript", "a / input.manual / 2", "a / input.start / 2"),
    ("javascript", "/* input.manual */ input.manual", "/* input.manual */ input.start"),
    (
        "javascript",
        '"it\'s input.manual" + input.manual$x',
        '"it\'s input.manual" + input.manual$x',
    ),
]


@pytest.mark.parametrize(("language", "code", "renamed"), CASES)
def test_only_whole_reads_in_code_are_renamed(
    page: Any, language: str, code: str, renamed: str
) -> None:
    page.goto("/editor/rename_reads_cases")
    page.wait_for_selector("#editor[data-ready='true']")
    got = page.evaluate(
        """async ([code, language]) => {
          const m = await import('/static/js/editor/input_reads.js');
          return m.renameInputReads(code, language, 'manual', 'start');
        }""",
        [code, language],
    )
    assert got == renamed
