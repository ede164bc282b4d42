"""The runs list (/runs) in a real browser: readable local times (the ISO value kept
in `datetime` and `title`), one line each at 1024 px, a duration and a trigger column.

Never `playwright install`: skipped without /usr/bin/chromium.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.pages_support import browser_page, write_workflow

pytestmark = BROWSER_TESTS

QUICK = """\
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


def test_runs_list_shows_local_times_duration_and_trigger_on_one_line(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    artifacts: Path,
) -> None:
    stem = f"rl_{uuid.uuid4().hex[:8]}"
    path = write_workflow(workflows_dir, stem, QUICK.format(name=stem))
    try:
        resp = client.post(f"/api/workflows/{stem}/runs?wait=1", json={}, headers=auth)
        assert resp.get_json()["status"] == "succeeded"
        run = client.get(f"/api/runs/{resp.get_json()['execution_id']}", headers=auth).get_json()

        with browser_page(browser, live_server, width=1024) as page:
            page.goto(f"/runs?workflow={stem}")
            row = page.locator("#runs tbody tr").first
            row.wait_for()
            headers = page.locator("#runs thead th").all_inner_texts()
            assert "Duration" in headers and "Trigger" in headers, headers
            cell = {h: row.locator("td").nth(i) for i, h in enumerate(headers)}

            for column, iso in (("Started", run["started_at"]), ("Finished", run["finished_at"])):
                time = cell[column].locator("time")
                assert time.get_attribute("datetime") == iso
                assert time.get_attribute("title") == iso
                text = time.inner_text()
                local = datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Tokyo"))
                assert local.strftime("%H:%M:%S") in text, (text, iso)
                assert "T" not in text and "+00:00" not in text and "." not in text, text
                # One line: an inline element has a client rect per line it takes.
                assert time.evaluate("t => t.getClientRects().length") == 1, text

            took = (
                datetime.fromisoformat(run["finished_at"])
                - datetime.fromisoformat(run["started_at"])
            ).total_seconds()
            duration = cell["Duration"].inner_text()
            assert re.fullmatch(r"[\d.]+ (ms|s)", duration), duration
            shown = float(duration.split()[0]) / (1000 if duration.endswith("ms") else 1)
            assert abs(shown - took) < 0.01 + took * 0.01, (duration, took)
            assert cell["Trigger"].inner_text() == "manual"
            # The API's microseconds count: 0.74 ms read as "0.00 ms" or "1.00 ms".
            between = page.evaluate(
                "async () => (await import('/static/js/run/format.js')).fmtBetween("
                "'2026-11-27T04:00:00.122716+00:00', '2026-11-27T04:00:00.123456+00:00')"
            )
            assert between == "0.74 ms"
            # Nothing in the row wraps, the table fits the page.
            heights = row.locator("td").evaluate_all(
                "tds => tds.map(td => td.getBoundingClientRect().height)"
            )
            assert max(heights) < 40, heights
            assert page.evaluate("document.documentElement.scrollWidth") <= 1024
            page.screenshot(path=str(artifacts / "pages-runs-list-1024.png"))
    finally:
        path.unlink()


FAILS_ON_ODD = """\
version: 1
name: {name}
blocks:
  start: {{type: manual}}
  check:
    type: function
    code: |
      if <start.n> % 2:
          raise ValueError("odd")
      return {{"n": <start.n>}}
edges:
  - start -> check
"""


def test_runs_list_filters_by_status_and_pages_to_older_runs(
    browser: Any, live_server: str, client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> None:
    """`?status=failed` was ignored, and runs past the newest 100 were out of reach."""
    stem = f"rf_{uuid.uuid4().hex[:8]}"
    path = write_workflow(workflows_dir, stem, FAILS_ON_ODD.format(name=stem))
    try:
        for n in range(102):  # 51 failed, 51 succeeded
            client.post(f"/api/workflows/{stem}/runs?wait=1", json={"n": n}, headers=auth)
        with browser_page(browser, live_server) as page:
            page.goto(f"/runs?workflow={stem}&status=failed")
            rows = page.locator("#runs tbody tr")
            rows.first.wait_for()
            assert rows.count() == 51
            assert set(page.locator("#runs tbody .badge").all_inner_texts()) == {"failed"}
            assert page.locator("#filter-status").input_value() == "failed"
            assert page.locator("#runs-older").is_hidden()

            page.goto(f"/runs?workflow={stem}")
            rows.first.wait_for()
            assert rows.count() == 100
            page.click("#runs-older")
            page.wait_for_url(re.compile(r"before="))
            # Not wait_for_function: a string predicate needs 'unsafe-eval', which the
            # page's CSP refuses (it failed whenever the rows were not there at once).
            expect(rows).to_have_count(2)
            assert page.locator("#runs-empty").is_hidden()

            gone = uuid.uuid4()  # a page after a run since deleted: said, not "No runs"
            page.goto(f"/runs?workflow={stem}&before={gone}")
            assert str(gone) in page.locator("#runs-gone-before").inner_text()
            expect(rows).to_have_count(100)  # the newest, as the message says

            page.goto(f"/runs?workflow={stem}&status=bogus")  # was silently "any status"
            assert "bogus" in page.locator("#runs-bad-status").inner_text()

            page.goto(f"/runs?workflow={stem}&status=cancelled")
            page.locator("#runs-empty").wait_for()
            assert rows.count() == 0
    finally:
        path.unlink()


def test_the_workflow_filter_box_is_wide_enough_to_type_in(browser: Any, live_server: str) -> None:
    """The status select took the form's width (width: 100%) and squeezed the
    workflow box beside it to some 14 px."""
    for width in (1024, 1440):
        with browser_page(browser, live_server, width=width) as page:
            page.goto("/runs?status=failed")
            box = page.locator("#filter-workflow").bounding_box()
            assert box is not None and box["width"] > 120, (width, box)
            select = page.locator("#filter-status")
            shown = select.bounding_box()
            assert shown is not None
            # The select still shows its option whole, and the row stays in the form.
            assert shown["width"] >= select.evaluate("s => s.scrollWidth"), (width, shown)
            form = page.locator("#runs-filter").bounding_box()
            button = page.locator("#runs-filter button").bounding_box()
            assert form is not None and button is not None
            assert button["x"] + button["width"] <= form["x"] + form["width"] + 1, (form, button)


def test_at_800px_the_runs_table_scrolls_inside_its_card(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
) -> None:
    """The table overflowed its card: the page scrolled sideways (scrollWidth 862)
    and the Duration column was cut at the window's edge."""
    stem = f"rl_{uuid.uuid4().hex[:8]}"
    path = write_workflow(workflows_dir, stem, QUICK.format(name=stem))
    try:
        resp = client.post(f"/api/workflows/{stem}/runs?wait=1", json={}, headers=auth)
        assert resp.get_json()["status"] == "succeeded"
        with browser_page(browser, live_server, width=800) as page:
            page.goto(f"/runs?workflow={stem}")
            page.locator("#runs tbody tr").first.wait_for()
            assert page.evaluate("document.documentElement.scrollWidth") <= 800
            card = page.locator("section.card").bounding_box()
            duration = page.locator("#runs thead th", has_text="Duration")
            duration.scroll_into_view_if_needed()  # scrolls the table, not the page
            box = duration.bounding_box()
            assert box["x"] + box["width"] <= card["x"] + card["width"], (box, card)
            assert page.evaluate("window.scrollX") == 0
    finally:
        path.unlink()


HELD_BEHIND_KEY = """\
version: 1
name: {name}
blocks:
  hook: {{type: webhook, path: {name}, concurrency_key: "<webhook.body.key>"}}
  hold:
    type: function
    timeout: 60
    code: |
      import os, time
      while not os.path.exists({gate!r}):
          time.sleep(0.05)
      return {{"held": True}}
edges:
  - hook -> hold
"""


def test_a_run_not_started_shows_when_it_was_accepted_not_a_start(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    tmp_path: Path,
) -> None:
    """A run queued behind its concurrency key has no start: the list showed its
    accepted time under "Started", and once cancelled its wait as a "Duration"."""
    stem = f"rq_{uuid.uuid4().hex[:8]}"
    gate = tmp_path / "gate"
    path = write_workflow(workflows_dir, stem, HELD_BEHIND_KEY.format(name=stem, gate=str(gate)))
    try:
        first = client.post(f"/webhooks/{stem}", json={"key": stem})
        second = client.post(f"/webhooks/{stem}", json={"key": stem})
        assert first.status_code == second.status_code == 202, (first.text, second.text)
        waiting = second.get_json()["execution_id"]
        assert client.get(f"/api/runs/{waiting}", headers=auth).get_json()["status"] == "queued"
        with browser_page(browser, live_server) as page:
            page.goto(f"/runs?workflow={stem}")
            row = page.locator(f"#runs tbody tr:has(a[href='/runs/{waiting}'])")
            expect(row).to_have_count(1)
            headers = page.locator("#runs thead th").all_inner_texts()
            started = row.locator("td").nth(headers.index("Started"))
            expect(started).to_contain_text("not started")
            accepted = client.get(f"/api/runs?workflow={stem}", headers=auth).get_json()
            created = next(r for r in accepted["runs"] if r["execution_id"] == waiting)
            assert started.locator("time").get_attribute("datetime") == created["created_at"]

            cancel = client.post(f"/api/runs/{waiting}/cancel", headers=auth)
            assert cancel.status_code in (200, 202), cancel.text
            page.reload()
            expect(row.locator(".badge")).to_have_text("cancelled", timeout=30_000)
            expect(started).to_contain_text("not started")
            assert row.locator("td").nth(headers.index("Duration")).inner_text() == ""
    finally:
        gate.write_text("open")
        path.unlink()
