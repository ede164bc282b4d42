"""An open page outlives its session, in a real browser (Debian's chromium): after
a logout and login in another tab the editor still saves and the run viewer still
stops a run (the page's CSRF token was stale: "forbidden"); after a logout the page
asks for the token in place and then saves, the edit kept. docs/ui-security.md,
"Sessions".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS, TOKEN, logged_in_page
from tests.ui.pages_support import write_workflow
from tests.ui.test_browser_editor import open_editor, select
from tests.ui.test_pages_run_viewer import HOLD

pytestmark = BROWSER_TESTS

SMALL = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  add:
    type: function
    code: |
      return {{"sum": 1 + 2}}
edges:
  - start -> add
"""


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """Logged in; fails on JavaScript errors (a refused fetch is a console error of
    its own, so not on those)."""
    with logged_in_page(browser, live_server) as pg:
        yield pg


@pytest.fixture
def small(workflows_dir: Path) -> Iterator[tuple[str, Path]]:
    name = f"sess_{uuid.uuid4().hex[:8]}"
    path = write_workflow(workflows_dir, name, SMALL.format(name=name))
    yield name, path
    path.unlink(missing_ok=True)


def other_tab(page: Any) -> Any:
    """Another tab of the same browser: it shares the page's cookie."""
    tab = page.context.new_page()
    tab.goto("/")
    return tab


def log_out(tab: Any) -> None:
    tab.click("form.logout button")
    tab.wait_for_selector("#token")


def log_in(tab: Any) -> None:
    tab.fill("#token", TOKEN)
    tab.click("#login-submit")
    tab.wait_for_selector("form.logout")


def edit_code(page: Any, code: str) -> None:
    select(page, "add")
    page.locator("#props-form [data-field='code']").fill(code)


def saved_code(path: Path) -> str:
    return yaml.safe_load(path.read_text())["blocks"]["add"]["code"]


def test_the_editor_saves_after_a_login_again_in_another_tab(
    page: Any, small: tuple[str, Path]
) -> None:
    name, path = small
    open_editor(page, name)
    tab = other_tab(page)
    log_out(tab)
    log_in(tab)  # a new session: this page's CSRF token is not its token
    edit_code(page, 'return {"sum": 42}')
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")  # was "Not saved: forbidden"
    assert saved_code(path) == 'return {"sum": 42}'
    expect(page.locator("#relogin")).to_be_hidden()  # nothing to ask: the session is there
    # The page's token is the session's now: the next save needs no second try.
    edit_code(page, 'return {"sum": 43}')
    page.click("#btn-save")
    expect(page.locator("#status")).to_have_text("Saved")
    assert saved_code(path) == 'return {"sum": 43}'


def test_the_editor_logs_in_again_in_place_and_saves_the_edit(
    page: Any, small: tuple[str, Path]
) -> None:
    name, path = small
    original = path.read_text()
    open_editor(page, name)
    log_out(other_tab(page))  # the session ended
    edit_code(page, 'return {"sum": 7}')
    page.click("#btn-save")
    dialog = page.locator("#relogin")
    expect(dialog).to_be_visible()
    page.click("#relogin-cancel")  # not now: nothing saved, the edit stays
    expect(page.locator("#status")).to_contain_text("Not saved: not logged in")
    expect(page.locator("#dirty")).to_be_visible()
    assert path.read_text() == original

    page.click("#btn-save")
    expect(dialog).to_be_visible()
    page.fill("#relogin-token", "not-the-token")
    page.click("#relogin-submit")
    expect(page.locator("#relogin-error")).to_have_text("That token is not valid.")
    page.fill("#relogin-token", TOKEN)
    page.click("#relogin-submit")
    expect(page.locator("#status")).to_have_text("Saved")
    expect(dialog).to_be_hidden()
    expect(page.locator("#dirty")).to_be_hidden()
    assert saved_code(path) == 'return {"sum": 7}'


def test_the_run_viewer_stops_a_run_after_a_login_again_in_another_tab(
    page: Any, client: FlaskClient, auth: dict[str, str], workflows_dir: Path, tmp_path: Path
) -> None:
    stem = f"sess_stop_{uuid.uuid4().hex[:8]}"
    flag = tmp_path / "flag"
    path = write_workflow(workflows_dir, stem, HOLD.format(name=stem, flag=str(flag)))
    try:
        eid = client.post(f"/api/workflows/{stem}/runs", json={}, headers=auth).get_json()[
            "execution_id"
        ]
        page.goto(f"/runs/{eid}")
        page.wait_for_selector(
            "#blocks details.block[data-block='hold'][data-status='running']", timeout=30_000
        )
        tab = other_tab(page)
        log_out(tab)
        log_in(tab)
        page.click("#cancel")  # was "stop failed: forbidden", and the run went on
        page.wait_for_selector("#run-viewer[data-done='true']", timeout=30_000)
        assert page.inner_text("#run-status") == "cancelled"
    finally:
        flag.touch()
        path.unlink()
