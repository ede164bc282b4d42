"""The runs list says when it cannot be read (docs/pages.md, "/runs"). With the
database away the API answers 503, and the page said nothing: a first load showed an
empty table without even "No runs", and an open list went on showing its last
statuses (a run `running` that had ended) as if refreshed every 3 s. Only a 400 was
said. The server reaches PostgreSQL through a relay the test cuts, as in
test_run_viewer_outage_browser.py; the app, waitress and Chromium are real.
"""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS, TOKEN
from tests.ui.pages_support import browser_page
from tests.ui.test_run_viewer_outage_browser import Served, browser, served  # noqa: F401

pytestmark = BROWSER_TESTS


def test_the_runs_list_says_the_database_is_away_and_recovers(
    served: Served,  # noqa: F811
    browser: Any,  # noqa: F811
) -> None:
    name = next(served.workflows.glob("*.yaml")).stem
    started = httpx.post(
        f"{served.url}/api/workflows/{name}/runs",
        headers={"Authorization": f"Bearer {TOKEN}"},
        json={},
    )
    assert started.status_code == 202, started.text
    served.gate.write_text("open")  # the run ends
    error = "#runs-error"
    with browser_page(browser, served.url, refusals=(503,)) as page:
        page.goto("/runs")
        expect(page.locator("#runs tbody tr")).to_have_count(1)
        served.relay.cut()
        # The open list: its rows stay, and the page says they are not current.
        expect(page.locator(error)).to_be_visible(timeout=30_000)
        expect(page.locator(error)).to_contain_text("database")
        expect(page.locator(error)).to_contain_text("not refreshed")
        expect(page.locator("#runs tbody tr")).to_have_count(1)
        # A first load: the refusal, not an empty table that says nothing.
        page.goto("/runs")
        expect(page.locator(error)).to_be_visible()
        expect(page.locator(error)).to_contain_text("database")
        expect(page.locator("#runs tbody tr")).to_have_count(0)
        served.relay.restore()
        expect(page.locator("#runs tbody tr")).to_have_count(1, timeout=30_000)
        expect(page.locator(error)).to_be_hidden()
