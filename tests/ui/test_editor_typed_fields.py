"""A save takes exactly what the fields show, in a real browser (Debian's chromium,
as in test_browser_editor.py), however the text got there: typed, picked from the
reference list, or picked and deleted again."""

from __future__ import annotations

from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, select

pytestmark = BROWSER_TESTS

TWO = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  first:
    type: function
    code: |
      return {{"n": 1}}
  last:
    type: function
    code: 'return {{"m": 2}}'
edges:
  - start -> first
  - first -> last
"""


def test_a_picked_reference_deleted_by_hand_is_not_saved(page: Any, scratch: Any) -> None:
    """Picking set the field from script and committed it; deleting it again by hand
    brought the text back to its value when the field got the focus, so no `change`
    fired, and the save wrote the picked reference."""
    path = scratch("pick_then_delete", TWO)
    open_editor(page, "pick_then_delete")
    select(page, "last")
    code = page.locator("#props-form [data-field='code']")
    code.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" + <fi")
    expect(page.locator("#ref-suggest li").first).to_have_attribute("data-ref", "<first>")
    page.keyboard.press("Enter")
    expect(code).to_have_value('return {"m": 2} + <first>')
    for _ in " + <first>":
        page.keyboard.press("Backspace")
    expect(code).to_have_value('return {"m": 2}')
    page.locator("#canvas").click(position={"x": 700, "y": 500})  # leaves the field
    page.wait_for_selector("#workflow-form")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert yaml.safe_load(path.read_text())["blocks"]["last"]["code"] == 'return {"m": 2}'


def test_a_picked_reference_is_saved(page: Any, scratch: Any) -> None:
    path = scratch("pick_and_keep", TWO)
    open_editor(page, "pick_and_keep")
    select(page, "last")
    code = page.locator("#props-form [data-field='code']")
    code.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" + <fi")
    expect(page.locator("#ref-suggest li").first).to_have_attribute("data-ref", "<first>")
    page.keyboard.press("Enter")
    page.locator("#canvas").click(position={"x": 700, "y": 500})
    page.wait_for_selector("#workflow-form")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    saved = yaml.safe_load(path.read_text())["blocks"]["last"]["code"]
    assert saved == 'return {"m": 2} + <first>'


TYPED = """\
version: 1
name: {name}
description: |
  Mails the report.
blocks:
  start:
    type: manual
  gate:
    type: condition
    if: true
  notify:
    type: email
    to: [ops@example.com, finance@example.com]
    subject: Daily report
    text: hello
  call:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: "42"
edges:
  - start -> gate
  - gate.true -> notify
  - notify -> call
"""


def test_a_field_entered_and_left_unedited_keeps_its_value_and_type(
    page: Any, scratch: Any
) -> None:
    """`to: [a, b]` was saved as the string '["a","b"]', `if: true` as 'true' (then
    refused as a bad expression), `json: "42"` as 42, the description without its
    last newline, and each marked the workflow unsaved."""
    path = scratch("focus_and_leave", TYPED)
    original = path.read_text()
    open_editor(page, "focus_and_leave")
    for block, key in [("notify", "to"), ("gate", "if"), ("call", "json")]:
        select(page, block)
        page.click(f"#prop-{key}")
        page.click("#prop-id")  # leaves the field: it commits
    page.locator("#canvas").click(position={"x": 700, "y": 500})
    page.wait_for_selector("#workflow-form")
    page.click("#wf-description")
    page.click("#wf-name")
    page.click("#wf-output")
    expect(page.locator("#dirty")).to_be_hidden()
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert path.read_text() == original  # nothing changed: not written at all


def test_a_field_edited_and_typed_back_keeps_its_original_value(page: Any, scratch: Any) -> None:
    path = scratch("edit_and_back", TYPED)
    original = path.read_text()
    open_editor(page, "edit_and_back")
    select(page, "notify")
    to = page.locator("#prop-to")
    shown = to.input_value()
    to.fill("ops@example.com")
    page.click("#prop-id")
    to.fill(shown)
    page.click("#prop-id")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert yaml.safe_load(path.read_text()) == yaml.safe_load(original)


def test_a_list_typed_into_a_text_or_list_field_is_saved_as_a_list(page: Any, scratch: Any) -> None:
    """Email `to` is text or a list: typed as a JSON list it was saved as the text
    '["a@…", "b@…"]' (the panel read the schema's first type, text), which the block
    then refused as no address."""
    path = scratch("list_typed", TYPED)
    open_editor(page, "list_typed")
    select(page, "notify")
    to = page.locator("#prop-to")
    to.fill('["a@example.com", "b@example.com"]')
    page.click("#prop-id")
    select(page, "gate")
    page.locator("#prop-if").fill("5 > 3")
    page.click("#prop-id")
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    blocks = yaml.safe_load(path.read_text())["blocks"]
    assert blocks["notify"]["to"] == ["a@example.com", "b@example.com"]
    assert blocks["gate"]["if"] == "5 > 3"  # text stays text


JSON_BODIES = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  call:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
  flag:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: true
  nothing:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: null
  word:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: "true"
  digits:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: "42"
  quoted:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: '"hi"'
  prose:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: hello there
  ref:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: <input.body>
  listed:
    type: http
    url: http://127.0.0.1:9/x
    method: POST
    json: [1, "a", {{"k": null}}]
edges:
  - start -> call
"""


def saved_json(page: Any, path: Any, block: str) -> Any:
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    return yaml.safe_load(path.read_text())["blocks"][block].get("json", "(no key)")


def test_any_json_value_typed_into_a_json_field_is_saved_as_that_value(
    page: Any, scratch: Any
) -> None:
    """`true`, `null`, `"hello"` and `3.5e2` typed into the HTTP block's `json` (any
    JSON value) were saved as the strings 'true', 'null', '"hello"' and '3.5e2'."""
    path = scratch("json_typed", JSON_BODIES)
    open_editor(page, "json_typed")
    select(page, "call")
    typed = [
        ("true", True),
        ("false", False),
        ("null", None),
        ('"hello"', "hello"),
        ("3.5e2", 350),
        ("-1.25E-1", -0.125),
        ("42", 42),
        ('{"a": [1, true]}', {"a": [1, True]}),
        ("<input.body>", "<input.body>"),  # a reference stays a string
        ("hello there", "hello there"),  # so does text that is not JSON
    ]
    for text, value in typed:
        page.locator("#prop-json").fill(text)
        page.click("#prop-id")  # leaves the field: it commits
        assert saved_json(page, path, "call") == value, text


def test_what_a_json_field_shows_reads_back_as_the_same_value(page: Any, scratch: Any) -> None:
    """The text a field shows for a stored value, typed into another block's field,
    is that value: `json: "true"` (a string) was shown as `true` and read back as
    the boolean, `json: null` shown as nothing and left out."""
    path = scratch("json_shown", JSON_BODIES)
    stored = yaml.safe_load(path.read_text())["blocks"]
    open_editor(page, "json_shown")
    for block in ["flag", "nothing", "word", "digits", "quoted", "prose", "ref", "listed"]:
        select(page, block)
        shown = page.locator("#prop-json").input_value()
        select(page, "call")
        page.locator("#prop-json").fill(shown)
        page.click("#prop-id")
        assert saved_json(page, path, "call") == stored[block]["json"], (block, shown)
