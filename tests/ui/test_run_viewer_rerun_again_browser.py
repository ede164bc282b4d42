"""A re-run the run viewer could not start can be asked again from the same page. The
button stayed disabled after any refusal but a delivery's 409: a re-run cancelled at
"Log in again" said "not logged in (log in again, then try again …)", and once logged in
nothing could try again but a reload (real Chromium; the session ended by a logout in
another tab, as in test_session_renewal_browser.py)."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.pages_support import open_run
from tests.ui.test_session_renewal_browser import log_in, log_out, other_tab

pytestmark = BROWSER_TESTS


def test_a_rerun_refused_for_the_session_can_be_asked_again(
    page: Any, client: FlaskClient, auth: dict[str, str]
) -> None:
    started = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth)
    assert started.status_code == 200, started.get_json()
    eid = started.get_json()["execution_id"]
    open_run(page, eid)
    tab = other_tab(page)
    log_out(tab)
    page.click("#rerun")
    expect(page.locator("#relogin")).to_be_visible()
    page.click("#relogin-cancel")
    expect(page.locator("#run-live")).to_contain_text("re-run failed: not logged in")
    log_in(tab)  # logged in again: as the message says, try again
    expect(page.locator("#rerun")).to_be_enabled()
    page.click("#rerun")
    page.wait_for_url(re.compile(r"/runs/(?!" + eid + r")[0-9a-f-]{36}$"))
