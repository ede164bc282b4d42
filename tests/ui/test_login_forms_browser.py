"""A login form shown before the session changed, in a real browser (Debian's
chromium): opened before a login in another tab (or before the cookies were
cleared), submitting it gave "403 · CSRF token missing or invalid" for the right
token. It now goes on logged in, or shows the form again saying it expired.
docs/ui-security.md, "Sessions".
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS, TOKEN

pytestmark = BROWSER_TESTS


def log_in(tab: Any) -> None:
    tab.fill("#token", TOKEN)
    tab.click("#login-submit")
    tab.wait_for_selector("form.logout")


def test_a_login_form_opened_before_a_login_in_another_tab_logs_in(
    browser: Any, live_server: str
) -> None:
    context = browser.new_context(base_url=live_server)
    try:
        stale = context.new_page()
        stale.goto("/login")
        elsewhere = context.new_page()
        elsewhere.goto("/login")
        log_in(elsewhere)  # a new session, with a CSRF token the first form lacks
        stale.fill("#token", TOKEN)
        stale.click("#login-submit")  # was "403 · CSRF token missing or invalid"
        expect(stale.locator("form.logout")).to_be_visible()
        assert stale.url == f"{live_server}/"
    finally:
        context.close()


def test_a_login_form_whose_cookies_were_cleared_says_it_expired(
    browser: Any, live_server: str
) -> None:
    context = browser.new_context(base_url=live_server)
    try:
        pg = context.new_page()
        pg.goto("/login")
        context.clear_cookies()
        pg.fill("#token", TOKEN)
        pg.click("#login-submit")
        expect(pg.locator("p.error")).to_have_text(
            "This login form expired (you logged in or out in another tab, or the cookies "
            "were cleared): log in again."
        )
        log_in(pg)  # the form again, with a token that works
        assert pg.url == f"{live_server}/"
    finally:
        context.close()
