"""A `body` is only a container's list of blocks: the HTTP block's `body` (its raw
request body) is a field like any other. The editor took every block's `body` for
what a Loop or Parallel holds, so saving an HTTP block after any edit (its
description) removed its request body from the file, and the request went out
empty."""

from __future__ import annotations

from typing import Any

import yaml
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_editor import open_editor, save, select, set_field

pytestmark = BROWSER_TESTS

RAW = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  send:
    type: http
    method: POST
    url: http://127.0.0.1:9/capture
    body: "amount=<start.amount?>"
  each:
    type: loop
    items: [1, 2]
    body: [step]
  step:
    type: function
    code: |
      return {{"n": <item>}}
edges:
  - start -> send
  - send -> each
"""


def test_an_http_blocks_raw_body_survives_an_edit_of_another_field(page: Any, scratch: Any) -> None:
    path = scratch("raw_body_kept", RAW)
    open_editor(page, "raw_body_kept")
    select(page, "send")
    expect(page.locator("#props-form [data-field='body']")).to_have_value("amount=<start.amount?>")
    set_field(page, "description", "capture the payment")
    save(page)
    expect(page.locator("#status")).to_have_text("Saved")
    blocks = yaml.safe_load(path.read_text())["blocks"]
    assert blocks["send"]["body"] == "amount=<start.amount?>"
    assert blocks["send"]["description"] == "capture the payment"
    assert blocks["each"]["body"] == ["step"]  # a container's body is still what it holds


def test_an_edited_raw_body_is_saved(page: Any, scratch: Any) -> None:
    path = scratch("raw_body_edit", RAW)
    open_editor(page, "raw_body_edit")
    select(page, "send")
    set_field(page, "body", "amount=100")
    save(page)
    expect(page.locator("#status")).to_have_text("Saved")
    assert yaml.safe_load(path.read_text())["blocks"]["send"]["body"] == "amount=100"
