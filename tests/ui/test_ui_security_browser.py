"""Security of the pages in a real browser (Playwright driving Debian's chromium):
untrusted run data (webhook bodies, errors, workflow names) is shown as text and
never runs, and the Content-Security-Policy refuses nothing the pages need.

Never `playwright install`: skipped (with the reason below) without /usr/bin/chromium.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ui.conftest import BROWSER_TESTS, logged_in_page
from tests.ui.pages_support import open_run

pytestmark = BROWSER_TESTS

# Every way untrusted text could run if a page wrote it as HTML: a script element,
# an event handler, an SVG one (X6 draws in SVG).
XSS = (
    "<script>window.__xss='script'</script><img src=x onerror=\"window.__xss='img'\">"
    "<svg onload=\"window.__xss='svg'\"></svg>"
)
# Injected by the browser itself, not the page: it sees what the CSP refuses, and
# the CSP does not apply to it.
QUOTED = '"' + XSS.replace('"', '\\"') + '"'
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""

XSS_HOOK = """\
version: 1
name: %(xss)s
description: %(xss)s
blocks:
  hook:
    type: webhook
    path: test/xss
  echo:
    type: function
    code: |
      return {"echo": input.hook.body.html}
  boom:
    type: function
    code: |
      raise ValueError(input.hook.body.html)
edges:
  - hook -> echo
  - echo -> boom
"""

# Not valid (case names are restricted), but the editor opens it to show why: the
# case is an out port labelled with its name, and the problem quotes it.
XSS_EDITOR = """\
version: 1
name: %(xss)s
blocks:
  start:
    type: manual
  pick:
    type: condition
    cases:
      - name: %(xss)s
        if: "1 == 1"
edges:
  - start -> pick
"""


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """Logged in, watching for injected script (WATCH); a dialog is an error too."""
    with logged_in_page(browser, live_server, init_script=WATCH) as pg:
        pg.on("dialog", lambda d: (pg.js_errors.append(f"dialog: {d.message}"), d.dismiss()))
        yield pg


@pytest.fixture
def xss_run(workflows_dir: Path, live_server: str) -> Iterator[str]:
    """A run of a workflow whose name, output and error carry XSS."""
    path = workflows_dir / "xss_hook.yaml"
    path.write_text(XSS_HOOK % {"xss": QUOTED})
    resp = httpx.post(f"{live_server}/webhooks/test/xss", json={"html": XSS}, timeout=30)
    assert resp.status_code == 202, resp.text
    yield resp.json()["execution_id"]
    path.unlink(missing_ok=True)


def assert_nothing_ran(page: Any) -> None:
    assert page.evaluate("window.__xss") is None, "injected script ran"
    injected = page.evaluate(
        "document.querySelectorAll('main img, main script, main svg[onload], main [onerror]').length"
    )
    assert injected == 0, "untrusted text became elements"


def assert_no_csp_violations(page: Any) -> None:
    assert page.evaluate("window.__csp") == [], "the CSP refused something the page needs"


def test_the_run_viewer_shows_a_script_from_a_webhook_body_as_text(page: Any, xss_run: str) -> None:
    open_run(page, xss_run)
    assert page.inner_text("#run-status") == "failed"
    page.click("#blocks details[data-block='echo'] summary")
    page.click("#blocks details[data-block='boom'] summary")
    text = page.inner_text("#run-viewer")
    assert "<script>window.__xss='script'</script>" in text, "the body is shown, as text"
    assert "<img src=x" in page.inner_text("#run-error")
    assert "<svg onload" in page.inner_text("#run-workflow")
    assert_nothing_ran(page)
    assert_no_csp_violations(page)
    # The runs list shows the workflow name as text too.
    page.goto("/runs?workflow=")
    page.wait_for_selector(f"#runs a[href='/runs/{xss_run}']")
    assert "<script>window.__xss" in page.inner_text("#runs")
    assert_nothing_ran(page)
    assert_no_csp_violations(page)


@pytest.fixture
def xss_editor(workflows_dir: Path) -> Iterator[str]:
    path = workflows_dir / "xss_editor.yaml"
    path.write_text(XSS_EDITOR % {"xss": QUOTED})
    yield "xss_editor"
    path.unlink(missing_ok=True)


def test_the_editor_draws_untrusted_names_as_text(page: Any, xss_editor: str) -> None:
    page.goto("/")
    assert "<script>window.__xss" in page.inner_text("#workflow-list")
    assert_nothing_ran(page)
    page.goto(f"/editor/{xss_editor}")
    page.wait_for_selector("#editor[data-ready='true']")
    # Saving is refused (422): the problems quote the case name.
    page.click("#btn-save")
    page.wait_for_selector("#problem-list li")
    assert "<img src=x" in page.inner_text("#problem-list")
    # The condition's case is an out port, labelled with its name.
    port_labels = page.locator("g.x6-node[data-cell-id='pick'] text").all_text_contents()
    # (X6 draws spaces as no-break spaces)
    assert any("<img src=x" in t.replace("\xa0", " ") for t in port_labels), port_labels
    page.locator("#canvas").click(position={"x": 860, "y": 700})
    page.wait_for_selector("#workflow-form")
    assert_nothing_ran(page)
    assert (
        page.evaluate("document.querySelectorAll('#canvas image, #canvas foreignObject').length")
        == 0
    )
    assert_no_csp_violations(page)


@pytest.mark.parametrize(
    "path", ["/", "/editor/hello", "/editor/new_one", "/runs", "/events", "/login"]
)
def test_the_csp_refuses_nothing_a_page_needs(page: Any, path: str) -> None:
    page.goto(path)
    if path.startswith("/editor/"):
        page.wait_for_selector("#editor[data-ready='true']")
        page.locator("g.x6-node").first.wait_for() if path == "/editor/hello" else None
        # Drag a block on and pan: X6 styles what it draws.
        page.drag_and_drop(
            ".palette-item[data-type='function']", "#canvas", target_position={"x": 400, "y": 300}
        )
        page.locator("g.x6-node[data-cell-id^='function']").first.wait_for()
    page.wait_for_load_state("networkidle")
    assert_no_csp_violations(page)
    headers = page.request.get(path).headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.fixture
def framer(live_server: str) -> Iterator[str]:
    """Another origin (a second port) whose page frames the login page."""
    html = f"<iframe id='f' src='{live_server}/login'></iframe>".encode()

    class Framer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Framer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_page_cannot_be_framed(page: Any, framer: str, live_server: str) -> None:
    with page.expect_response(f"{live_server}/login") as resp:
        page.goto(framer)
    assert resp.value.status == 200, "the frame asked for the page..."
    page.wait_for_timeout(500)
    # ...and the browser refused to show it (without the headers it shows the topbar).
    assert page.frame_locator("#f").locator("header.topbar").count() == 0
