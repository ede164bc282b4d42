"""A field the file sets to an empty text (`text: ""`) is a value, not a blank left
to fill in: the editor dropped every such key of every block on any save, so an
Email block with `text: ""` (valid: an empty body) lost it and the save was refused
("give a text or html body") for a block nobody touched, and an HTTP block's
`body: ""` was saved as no body at all."""

from __future__ import annotations

from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, save, select, set_field

pytestmark = BROWSER_TESTS

EMPTY = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  mail:
    type: email
    to: a@example.test
    subject: ping
    text: ""
  send:
    type: http
    method: POST
    url: http://127.0.0.1:9/ping
    body: ""
edges:
  - start -> mail
  - mail -> send
"""


def test_a_files_empty_texts_survive_an_edit_elsewhere(page: Any, scratch: Any) -> None:
    path = scratch("empty_texts", EMPTY)
    open_editor(page, "empty_texts")
    select(page, "start")
    set_field(page, "description", "by hand")
    save(page)
    expect(page.locator("#status")).to_have_text("Saved")
    blocks = yaml.safe_load(path.read_text())["blocks"]
    assert blocks["mail"]["text"] == ""
    assert blocks["send"]["body"] == ""
