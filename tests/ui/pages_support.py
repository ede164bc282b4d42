"""Helpers for the pages' browser tests (tests/ui/test_pages_*.py).

``logged_in_page`` from conftest fixes the browser's time zone and locale to the
machine's; the pages show times in the browser's own, so these tests pick one to
know what a time must read. They also fail on what the Content-Security-Policy
refuses and on console errors, not only on uncaught exceptions.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.ui.conftest import TOKEN

# Injected by the browser, not the page: the CSP does not apply to it.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


@contextlib.contextmanager
def browser_page(
    browser: Any,
    live_server: str,
    *,
    timezone_id: str = "Asia/Tokyo",
    locale: str = "en-GB",
    width: int = 1440,
    refusals: tuple[int, ...] = (),
) -> Iterator[Any]:
    """A logged-in page in ``timezone_id``/``locale``; fails on JavaScript errors,
    console errors and CSP violations. ``refusals``: HTTP statuses the test makes the
    page meet, whose "Failed to load resource" lines Chromium logs as errors."""
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": width, "height": 900},
        timezone_id=timezone_id,
        locale=locale,
    )
    context.add_init_script(WATCH_CSP)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    expected = tuple(f"the server responded with a status of {code} " for code in refusals)

    def console(message: Any) -> None:
        if message.type == "error" and not any(e in message.text for e in expected):
            errors.append(message.text)

    pg.on("console", console)
    pg.goto("/login")
    pg.fill("#token", TOKEN)
    pg.click("#login-submit")
    pg.wait_for_url(f"{live_server}/")
    try:
        yield pg
        violations = pg.evaluate("window.__csp")
        assert not violations, f"CSP violations: {violations}"
    finally:
        context.close()
    assert not errors, f"JavaScript or console errors: {errors}"


def write_workflow(workflows_dir: Path, name: str, text: str) -> Path:
    path = workflows_dir / f"{name}.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def open_run(page: Any, execution_id: str) -> None:
    """Open the run viewer and wait until it shows the run's final state."""
    page.goto(f"/runs/{execution_id}")
    page.wait_for_selector("#run-viewer[data-done='true']", timeout=30_000)
