"""The run viewer's re-run buttons in a real browser: what each one asks the API for,
and the way out a refused re-run of a delivery offers (docs/pages.md)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.pages_support import browser_page, open_run, write_workflow

pytestmark = BROWSER_TESTS

#: A delivery whose `ident` derives its id from the run (``{expr}``) and fails until
#: the flag file exists.
DELIVERY = """\
name: {name}
blocks:
  hook: {{type: webhook, path: rv-rerun/{name}}}
  ident:
    type: function
    code: |
      import pathlib
      if not pathlib.Path(FLAG).exists():
          raise RuntimeError("the flag file is not there yet")
      return {{"id": {expr}}}
edges: [hook -> ident]
output: <ident.id>
"""


def _delivery(expr: str, flag: Path) -> str:
    return DELIVERY.replace("{expr}", expr).replace("FLAG", repr(str(flag)))


def _new_run_url(first: str) -> re.Pattern[str]:
    return re.compile(r"/runs/(?!" + first + r")[0-9a-f-]{36}$")


def test_a_refused_rerun_of_a_delivery_offers_the_workflow_as_it_is_now(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    scratch: Callable[[str, str], Path],
    tmp_path: Path,
    artifacts: Path,
) -> None:
    """The 409's reason was shown and the page stopped there: nothing sent
    {"current_version": true}, the way the reason names."""
    name = f"rv_rerun_{uuid.uuid4().hex[:8]}"
    flag = tmp_path / "flag"
    path = scratch(name, _delivery("<workflow.execution_id>", flag))
    delivery = client.post(f"/webhooks/rv-rerun/{name}", json={"n": 1})
    assert delivery.status_code == 202
    first = delivery.get_json()["execution_id"]

    with browser_page(browser, live_server, refusals=(409,)) as page:
        open_run(page, first)
        assert page.inner_text("#run-status") == "failed"
        expect(page.locator("#rerun-refused")).to_be_hidden()
        page.click("#rerun")
        refused = page.locator("#rerun-refused")
        expect(refused).to_be_visible()
        expect(refused).to_contain_text("block 'ident' reads <workflow.execution_id>")
        expect(refused).to_contain_text('{"current_version": true}')
        offer = page.locator("#rerun-current")
        expect(offer).to_have_text("Re-run with the workflow as it is now")
        expect(offer).to_be_enabled()
        assert page.url.endswith(f"/runs/{first}")  # nothing re-run yet

        # The author makes the workflow name the run it repeats, then takes the offer.
        expr = "<workflow.rerun_of> or <workflow.execution_id>"
        path.write_text(_delivery(expr, flag).format(name=name))
        flag.touch()
        offer.click()
        page.wait_for_url(_new_run_url(first))
        page.wait_for_selector("#run-viewer[data-done='true']", timeout=30_000)
        assert page.inner_text("#run-status") == "succeeded"
        assert page.inner_text("#run-trigger") == "rerun"
        assert page.inner_text("#run-output") == f'"{first}"'


TWO_STEPS = """\
name: {name}
blocks:
  start: {{type: manual}}
  one: {{type: function, code: 'return {{"x": 1}}'}}
edges: [start -> one]
"""


def test_rerun_of_a_succeeded_run_runs_every_block_again(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    artifacts: Path,
) -> None:
    """The button sent {"from_failed": true}: every block was carried over (reused)
    and the re-run ran nothing."""
    name = f"rv_again_{uuid.uuid4().hex[:8]}"
    path = write_workflow(workflows_dir, name, TWO_STEPS.format(name=name))
    try:
        resp = client.post(f"/api/workflows/{name}/runs?wait=1", json={}, headers=auth)
        first = resp.get_json()["execution_id"]
        assert resp.get_json()["status"] == "succeeded"
        with browser_page(browser, live_server) as page:
            open_run(page, first)
            expect(page.locator("#rerun")).to_have_text("Re-run")
            page.click("#rerun")
            page.wait_for_url(_new_run_url(first))
            page.wait_for_selector("#run-viewer[data-done='true']", timeout=30_000)
            assert page.inner_text("#run-status") == "succeeded"
            badges = page.locator("#blocks > details.block summary .badge")
            expect(badges).to_have_text(["succeeded", "succeeded"])
            expect(page.locator("a.reused-from")).to_have_count(0)
    finally:
        path.unlink()
