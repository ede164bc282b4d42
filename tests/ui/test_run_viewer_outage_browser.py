"""The run viewer's live view outlives a database outage: the stream is cut when the
database goes away and the browser's own EventSource reconnect is answered 503 (the
run's status cannot be read), after which a browser never reconnects by itself. The
page reopens the stream from its last event and shows the run's end once the
database is back (docs/deploy.md: it "reconnects from its last event").

The server reaches PostgreSQL through a relay the test cuts (tests/relay.py); the
run, the Flask app, waitress and Chromium are real.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from held_runs import HOLD
from relay import Relay

from tests.ui.conftest import BROWSER_TESTS, CHROMIUM, CHROMIUM_ARGS, SECRET_KEY, TOKEN
from tests.ui.pages_support import browser_page
from ui.app import UIConfig, create_app
from ui.bridge import EngineBridge
from ui.server import make_server

pytestmark = BROWSER_TESTS

#: `hold` waits for the gate file: the run is still going while the database is away.
HELD_FLOW = (
    """\
version: 1
name: {name}
blocks:
  start: {{type: manual}}"""
    + HOLD
    + """
  after:
    type: function
    code: |
      return {{"done": <hold.held>}}
edges: [start -> hold, hold -> after]
"""
)


class Served:
    def __init__(self, url: str, relay: Relay, workflows: Path, log: Path, gate: Path) -> None:
        self.url, self.relay, self.workflows, self.log, self.gate = url, relay, workflows, log, gate


@pytest.fixture
def served(relayed_url: tuple[str, str, Relay], tmp_path: Path) -> Iterator[Served]:
    """A server whose engine reaches PostgreSQL through the relay."""
    import blocks  # noqa: F401
    from engine.runtime import Runtime

    workflows = tmp_path / "workflows"
    workflows.mkdir()
    log, gate = tmp_path / "log", tmp_path / "gate"
    name = f"outage_viewer_{uuid.uuid4().hex[:8]}"
    text = HELD_FLOW.format(name=name, log=str(log), gate=str(gate))
    (workflows / f"{name}.yaml").write_text(text)
    rt = Runtime(workflows, relayed_url[1], tmp_path, function_workers=1, resume=False)
    bridge = EngineBridge(rt).start()
    cfg = UIConfig(bridge, TOKEN, SECRET_KEY, workflows, max_body=1024 * 1024)
    server = make_server(create_app(cfg), "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-outage-viewer", daemon=True).start()
    try:
        yield Served(
            f"http://127.0.0.1:{server.effective_port}", relayed_url[2], workflows, log, gate
        )
    finally:
        server.close()
        bridge.stop()


@pytest.fixture
def browser(served: Served) -> Iterator[Any]:
    """Started after the server: Playwright's sync API runs an event loop in this
    thread, where the relay's database cannot be made (asyncio.run) any more."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_the_run_page_shows_the_end_of_a_run_that_outlived_a_database_outage(
    served: Served, browser: Any
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    name = next(served.workflows.glob("*.yaml")).stem
    started = httpx.post(f"{served.url}/api/workflows/{name}/runs", headers=headers, json={})
    assert started.status_code == 202, started.text
    eid = started.json()["execution_id"]

    with browser_page(browser, served.url, refusals=(503,)) as page:
        page.goto(f"/runs/{eid}")
        page.wait_for_selector("#blocks details[data-block='hold'][data-status='running']")
        # The database goes away while `hold` runs: the stream is cut, and the browser's
        # own reconnect of it is refused (503), which a browser never retries by itself.
        refused = lambda r: "/stream" in r.url and r.status == 503  # noqa: E731
        with page.expect_response(refused, timeout=30_000):
            served.relay.cut()
        served.relay.restore()
        served.gate.write_text("open")  # the run goes on and ends
        page.wait_for_selector("#run-viewer[data-done='true']", timeout=60_000)
        assert page.get_attribute("#run-viewer", "data-status") == "succeeded"
        assert page.text_content("#run-live") == ""
