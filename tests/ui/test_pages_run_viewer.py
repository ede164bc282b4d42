"""The run viewer (/runs/<id>) in a real browser: every top-level block of the run is
listed (those never reached as not run), the header says when the run started, how
long it took, what triggered it and with what input, and a re-run from the failed
block says which blocks it reused.

Never `playwright install`: skipped without /usr/bin/chromium.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.pages_support import browser_page, open_run, write_workflow

pytestmark = BROWSER_TESTS

#: `flaky` fails until its flag file exists: a re-run from the failed block then
#: runs it (and `after`) and reuses `start` and `prep`.
FLAKY = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  prep:
    type: function
    code: |
      return {{"n": 1}}
  flaky:
    type: function
    code: |
      import pathlib
      if not pathlib.Path({flag!r}).exists():
          raise RuntimeError("the flag file is not there yet")
      return {{"ok": True}}
  after:
    type: function
    code: |
      return {{"done": True}}
edges:
  - start -> prep
  - prep -> flaky
  - flaky -> after
"""

#: `hold` runs until its flag file exists: the viewer is watched while it runs.
HOLD = """\
version: 1
name: {name}
blocks:
  start:
    type: manual
  hold:
    type: function
    timeout: 30
    code: |
      import pathlib, time
      for _ in range(250):
          if pathlib.Path({flag!r}).exists():
              return {{"ok": True}}
          time.sleep(0.1)
      raise RuntimeError("the flag file never came")
  after:
    type: function
    code: |
      return {{"done": True}}
edges:
  - start -> hold
  - hold -> after
"""


@pytest.fixture
def flaky(workflows_dir: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    stem = f"pv_flaky_{uuid.uuid4().hex[:8]}"
    flag = tmp_path / "flag"
    path = write_workflow(workflows_dir, stem, FLAKY.format(name=stem, flag=str(flag)))
    yield stem, flag
    path.unlink()


def _blocks(page: Any) -> list[tuple[str, str, str]]:
    """(block, status, badge text) of each top-level block row, in page order."""
    rows = page.locator("#blocks > details.block").evaluate_all(
        "els => els.map(e => [e.dataset.block, e.dataset.status,"
        " e.querySelector('summary .badge').textContent])"
    )
    return [tuple(r) for r in rows]


def _local(iso: str, fmt: str = "%H:%M:%S") -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo("Asia/Tokyo")).strftime(fmt)


def test_a_failed_run_lists_the_blocks_it_never_reached_and_its_header(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    flaky: tuple[str, Path],
    artifacts: Path,
) -> None:
    stem, _ = flaky
    given = {"customer": "ada", "qty": 2}
    resp = client.post(f"/api/workflows/{stem}/runs?wait=1", json=given, headers=auth)
    assert resp.status_code == 200 and resp.get_json()["status"] == "failed", resp.get_json()
    eid = resp.get_json()["execution_id"]
    run = client.get(f"/api/runs/{eid}", headers=auth).get_json()

    with browser_page(browser, live_server) as page:
        open_run(page, eid)
        assert _blocks(page) == [
            ("start", "succeeded", "succeeded"),
            ("prep", "succeeded", "succeeded"),
            ("flaky", "failed", "failed"),
            ("after", "pending", "not run"),
        ]
        after = page.locator("#blocks details.block[data-block='after']")
        after.click()
        expect(after).to_contain_text("the run ended before reaching it")

        # The header: start (local time, the ISO value kept), duration, trigger, input.
        started = page.locator("#run-started time")
        assert started.get_attribute("datetime") == run["started_at"]
        assert _local(run["started_at"]) in started.inner_text()
        assert "+00:00" not in started.inner_text()
        took = (
            datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])
        ).total_seconds()
        duration = page.inner_text("#run-duration")
        assert re.fullmatch(r"[\d.]+ (ms|s)", duration), duration
        shown = float(duration.split()[0]) / (1000 if duration.endswith("ms") else 1)
        assert abs(shown - took) < 0.01 + took * 0.01, (duration, took)
        assert page.inner_text("#run-trigger") == "manual"
        # The workflow's name links to its file in the editor, from the run's own `file`.
        expect(page.locator("#run-workflow")).to_have_attribute("href", f"/editor/{stem}")
        details = page.locator("#run-input")
        assert details.get_attribute("open") is None, "the input starts collapsed"
        details.locator("summary").click()
        expect(details.locator("pre")).to_contain_text('"customer": "ada"')
        assert '"qty": 2' in details.locator("pre").inner_text()
        page.screenshot(path=str(artifacts / "pages-run-failed.png"), full_page=True)


#: `ins` succeeds in group `tx`, then `boom` fails the run before the group's last
#: member: the group rolls back.
ROLLED_BACK = """\
version: 1
name: {name}
blocks:
  start: {{type: manual}}
  ins: {{type: database, transaction: tx, query: "SELECT 1 AS one"}}
  boom: {{type: function, code: "raise ValueError('declined')"}}
  last: {{type: database, transaction: tx, query: "SELECT 2 AS two"}}
edges: [start -> ins, ins -> boom, boom -> last]
"""


def test_a_block_whose_transaction_rolled_back_says_so(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    artifacts: Path,
) -> None:
    stem = f"pv_rolled_{uuid.uuid4().hex[:8]}"
    path = write_workflow(workflows_dir, stem, ROLLED_BACK.format(name=stem))
    try:
        resp = client.post(f"/api/workflows/{stem}/runs?wait=1", json={}, headers=auth)
        assert resp.get_json()["status"] == "failed", resp.get_json()
        eid = resp.get_json()["execution_id"]
        with browser_page(browser, live_server) as page:
            open_run(page, eid)
            assert _blocks(page) == [
                ("start", "succeeded", "succeeded"),
                ("ins", "succeeded", "succeeded · rolled back"),
                ("boom", "failed", "failed"),
                ("last", "pending", "not run"),
            ]
            ins = page.locator("#blocks details.block[data-block='ins']")
            ins.click()
            expect(ins).to_contain_text("undone with transaction group 'tx'")
            page.screenshot(path=str(artifacts / "pages-run-rolled-back.png"), full_page=True)
    finally:
        path.unlink()


def test_a_loop_of_many_iterations_shows_the_first_and_the_failed_ones(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
) -> None:
    """A loop of 100,000 iterations was a million page elements: the page shows the
    first 100 iterations of a container, any that failed, and how many more there are."""
    stem = f"pv_many_{uuid.uuid4().hex[:8]}"
    path = write_workflow(
        workflows_dir,
        stem,
        f"version: 1\nname: {stem}\nblocks:\n  start: {{type: manual}}\n"
        "  lp: {type: loop, count: 150, body: [sq]}\n"
        "  sq:\n    type: function\n    isolation: inline\n    on_error: continue\n"
        "    code: |\n      if <loop.index> == 140:\n          raise ValueError('odd one')\n"
        "      return <loop.index>\n"
        "edges: [start -> lp]\n",
    )
    try:
        resp = client.post(f"/api/workflows/{stem}/runs?wait=1", json={}, headers=auth)
        eid = resp.get_json()["execution_id"]
        with browser_page(browser, live_server) as page:
            # The stream sends no more than the page shows (its first 100 iterations).
            streams: list[Any] = []
            page.on("response", lambda r: streams.append(r) if "/stream" in r.url else None)
            open_run(page, eid)
            assert "iterations=100" in streams[0].url
            sent = streams[0].text().count("\nevent: run_event\n")
            assert 0 < sent <= 2 * 100 + 10, sent  # of 2 * 150 + 10
            shown = page.locator("#blocks details.block[data-block='lp'] > details.iteration")
            assert shown.count() == 101  # the first 100 and the failed one (lp[140])
            assert page.locator("details.iteration[data-block='lp[140]']").count() == 1
            more = page.locator("#blocks details.block[data-block='lp'] > p.more-iterations")
            assert "49 more iterations not shown" in more.text_content()
            assert eid in more.text_content()
            assert "49 more iterations" in page.locator("#gantt .more-iterations").text_content()
    finally:
        path.unlink()


def test_a_parallels_branch_blocks_are_grouped_under_it(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
) -> None:
    """Branch blocks (`pa[left].a`) were listed as top-level rows after the last block."""
    stem = f"pv_par_{uuid.uuid4().hex[:8]}"
    path = write_workflow(
        workflows_dir,
        stem,
        f"version: 1\nname: {stem}\nblocks:\n  start: {{type: manual}}\n"
        "  pa: {type: parallel, branches: {left: [a], right: [b]}}\n"
        "  a: {type: function, isolation: inline, code: 'return 1'}\n"
        "  b: {type: function, isolation: inline, code: 'return 2'}\n"
        "edges: [start -> pa]\n",
    )
    try:
        resp = client.post(f"/api/workflows/{stem}/runs?wait=1", json={}, headers=auth)
        eid = resp.get_json()["execution_id"]
        with browser_page(browser, live_server) as page:
            open_run(page, eid)
            assert [b for b, _, _ in _blocks(page)] == ["start", "pa"]
            groups = page.locator("#blocks details.block[data-block='pa'] > details.iteration")
            assert groups.evaluate_all("els => els.map(e => e.dataset.block)") == [
                "pa[left]",
                "pa[right]",
            ]
            assert "pa · left" in groups.first.locator("summary").first.text_content()
    finally:
        path.unlink()


def test_a_rerun_from_the_failed_block_says_what_it_reused(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    flaky: tuple[str, Path],
    artifacts: Path,
) -> None:
    stem, flag = flaky
    resp = client.post(f"/api/workflows/{stem}/runs?wait=1", json={}, headers=auth)
    first = resp.get_json()["execution_id"]
    assert resp.get_json()["status"] == "failed"
    flag.touch()  # the failed block succeeds this time

    with browser_page(browser, live_server) as page:
        open_run(page, first)
        expect(page.locator("#rerun")).to_have_text("Re-run from failed block")
        page.click("#rerun")
        page.wait_for_url(re.compile(r"/runs/(?!" + first + r")[0-9a-f-]{36}$"))
        page.wait_for_selector("#run-viewer[data-done='true']", timeout=30_000)
        assert page.inner_text("#run-status") == "succeeded"
        assert page.inner_text("#run-trigger") == "rerun"
        assert _blocks(page) == [
            ("start", "succeeded", "reused"),
            ("prep", "succeeded", "reused"),
            ("flaky", "succeeded", "succeeded"),
            ("after", "succeeded", "succeeded"),
        ]
        prep = page.locator("#blocks details.block[data-block='prep']")
        prep.click()
        link = prep.locator("a.reused-from")
        assert link.get_attribute("href") == f"/runs/{first}"
        expect(prep).to_contain_text("not run again")
        # Its Gantt row has no bar: it did not run in this run.
        assert page.locator("#gantt .gantt-row[data-block='prep'] .gantt-bar").count() == 0
        page.screenshot(path=str(artifacts / "pages-run-reused.png"), full_page=True)


def test_a_live_run_lists_blocks_not_reached_yet_as_pending_then_updates(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    tmp_path: Path,
) -> None:
    stem = f"pv_hold_{uuid.uuid4().hex[:8]}"
    flag = tmp_path / "flag"
    path = write_workflow(workflows_dir, stem, HOLD.format(name=stem, flag=str(flag)))
    try:
        resp = client.post(f"/api/workflows/{stem}/runs", json={}, headers=auth)
        assert resp.status_code == 202
        eid = resp.get_json()["execution_id"]
        with browser_page(browser, live_server) as page:
            page.goto(f"/runs/{eid}")
            page.wait_for_selector(
                "#blocks details.block[data-block='hold'][data-status='running']",
                timeout=30_000,
            )
            # Listed before it starts, in flow order, and not called "not run": the
            # run is still going.
            assert [b[0] for b in _blocks(page)] == ["start", "hold", "after"]
            after = page.locator("#blocks details.block[data-block='after']")
            assert after.get_attribute("data-status") == "pending"
            assert after.locator("summary .badge").inner_text() == "pending"
            assert page.get_attribute("#run-viewer", "data-done") is None

            flag.touch()
            page.wait_for_selector("#run-viewer[data-done='true']", timeout=30_000)
            assert _blocks(page) == [
                ("start", "succeeded", "succeeded"),
                ("hold", "succeeded", "succeeded"),
                ("after", "succeeded", "succeeded"),
            ]
            assert page.inner_text("#run-status") == "succeeded"
            assert re.fullmatch(r"[\d.]+ (ms|s)", page.inner_text("#run-duration"))
    finally:
        flag.touch()
        path.unlink()


def test_stop_cancels_a_running_run_from_the_viewer(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
    tmp_path: Path,
) -> None:
    stem = f"pv_stop_{uuid.uuid4().hex[:8]}"
    flag = tmp_path / "flag"
    path = write_workflow(workflows_dir, stem, HOLD.format(name=stem, flag=str(flag)))
    try:
        resp = client.post(f"/api/workflows/{stem}/runs", json={}, headers=auth)
        eid = resp.get_json()["execution_id"]
        with browser_page(browser, live_server) as page:
            page.goto(f"/runs/{eid}")
            page.wait_for_selector(
                "#blocks details.block[data-block='hold'][data-status='running']",
                timeout=30_000,
            )
            page.click("#cancel")
            page.wait_for_selector("#run-viewer[data-done='true']", timeout=30_000)
            assert page.inner_text("#run-status") == "cancelled"
            assert page.locator("#cancel").is_hidden()  # nothing left to stop
            after = page.locator("#blocks details.block[data-block='after']")
            assert after.locator("summary .badge").inner_text() == "not run"
            # The block the cancel stopped: interrupted, not a red failure.
            hold = page.locator("#blocks details.block[data-block='hold'] summary .badge")
            assert hold.inner_text() == "failed · interrupted"
            assert "cancelled" in (hold.get_attribute("class") or "")
            bars = page.locator("#gantt .gantt-row[data-block='hold'] .gantt-bar")
            assert "failed" not in (bars.last.get_attribute("class") or "")  # grey, not red
        run = client.get(f"/api/runs/{eid}", headers=auth).get_json()
        assert run["status"] == "cancelled"
    finally:
        flag.touch()
        path.unlink()
