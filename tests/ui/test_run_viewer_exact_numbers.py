"""The run viewer shows integers past 2^53 with their digits (real Chromium).

JSON.parse reads every number as a double: a function's 9223372036854775807 cents
(exact in the API's answer) was shown as 9223372036854776000, an id of
12345678901234567 as 12345678901234568 and the input's 9007199254740993 as
9007199254740992. The run comes from GET /api/runs/<id> (the input) and its events
from the SSE stream (the blocks' and the run's outputs): both must read them exactly.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.pages_support import browser_page, open_run, write_workflow

pytestmark = BROWSER_TESTS

BIG = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  total:
    type: function
    code: |
      return {{"total_cents": 9223372036854775807, "id": 12345678901234567, "order": input.start.order}}
edges:
  - start -> total
output: <total>
"""


def test_integers_past_2_53_are_shown_with_their_digits(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
) -> None:
    stem = f"pv_big_{uuid.uuid4().hex[:8]}"
    path = write_workflow(workflows_dir, stem, BIG.format(name=stem))
    try:
        resp = client.post(
            f"/api/workflows/{stem}/runs?wait=1", json={"order": 9007199254740993}, headers=auth
        )
        body = resp.get_json()
        assert body["status"] == "succeeded", body
        assert body["output"]["total_cents"] == 9223372036854775807  # exact in the API
        with browser_page(browser, live_server) as page:
            open_run(page, body["execution_id"])
            output = page.locator("#run-output")
            expect(output).to_contain_text('"total_cents": 9223372036854775807')
            expect(output).to_contain_text('"id": 12345678901234567')
            expect(output).to_contain_text('"order": 9007199254740993')
            expect(page.locator("#run-input-json")).to_contain_text('"order": 9007199254740993')
            block = page.locator("#blocks details.block[data-block='total']")
            block.locator("summary").click()
            expect(block).to_contain_text('"total_cents": 9223372036854775807')
            expect(block).to_contain_text('"id": 12345678901234567')
            for shown in (output, block, page.locator("#run-input-json")):
                for rounded in ("9223372036854776000", "12345678901234568", "9007199254740992"):
                    expect(shown).not_to_contain_text(rounded)
    finally:
        path.unlink()


BIDI = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  pay:
    type: function
    code: |
      if input.start.fail:
          raise ValueError("refund " + input.start.amount)
      return {{"amount": input.start.amount}}
edges:
  - start -> pay
output: <pay>
"""


def test_bidirectional_controls_in_values_are_shown_escaped(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
) -> None:
    # U+202E (right-to-left override) in a webhook's or peer's text reversed what
    # followed it on the page: an amount "\u202e0001" read 1000 in the run viewer
    # while the API said "\u202e0001". It is shown as its JSON escape.
    stem = f"pv_bidi_{uuid.uuid4().hex[:8]}"
    path = write_workflow(workflows_dir, stem, BIDI.format(name=stem))
    amount = "\u202e0001"
    try:
        with browser_page(browser, live_server) as page:
            for fail in (False, True):
                resp = client.post(
                    f"/api/workflows/{stem}/runs?wait=1",
                    json={"amount": amount, "fail": fail},
                    headers=auth,
                )
                body = resp.get_json()
                assert body["status"] == ("failed" if fail else "succeeded"), body
                open_run(page, body["execution_id"])
                shown = page.locator("#run-error" if fail else "#run-output")
                expect(shown).to_contain_text("\\u202e0001")
                expect(page.locator("#run-input-json")).to_contain_text("\\u202e0001")
                for where in (shown, page.locator("#run-input-json")):
                    expect(where).not_to_contain_text(amount)
    finally:
        path.unlink()
