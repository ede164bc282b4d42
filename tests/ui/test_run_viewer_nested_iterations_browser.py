"""The run viewer's limit on iterations shown holds for nested containers too
(real Chromium). Each container showed its first 100 iterations, so a loop in a
loop showed 100 × 100: a loop of 200 in a loop of 200 was 240,000 page elements
and ~25 s. The 100 are now shared by the iterations a container sits in: the inner
loop of `outer[i]` shows its first 100 // (i + 1), and says how many more there are.
Counted: the iterations on the page.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.pages_support import browser_page, open_run, write_workflow

pytestmark = BROWSER_TESTS

N = 60


def test_a_loop_in_a_loop_shows_the_first_iterations_shared_out(
    browser: Any,
    live_server: str,
    client: FlaskClient,
    auth: dict[str, str],
    workflows_dir: Path,
) -> None:
    stem = f"pv_nested_{uuid.uuid4().hex[:8]}"
    path = write_workflow(
        workflows_dir,
        stem,
        f"version: 1\nname: {stem}\nblocks:\n  start: {{type: manual}}\n"
        f"  outer: {{type: loop, count: {N}, body: [inner]}}\n"
        f"  inner: {{type: loop, count: {N}, body: [c]}}\n"
        "  c: {type: condition, if: '<loop.index> >= 0'}\n"
        "edges: [start -> outer]\n",
    )
    try:
        resp = client.post(f"/api/workflows/{stem}/runs?wait=1", json={}, headers=auth)
        assert resp.get_json()["status"] == "succeeded", resp.get_json()
        eid = resp.get_json()["execution_id"]
        with browser_page(browser, live_server) as page:
            open_run(page, eid)
            top = "#blocks details.block[data-block='outer']"
            assert page.locator(f"{top} > details.iteration").count() == N
            inner = page.locator(f"{top} details.iteration[data-block*='.inner[']")
            # 60 + 50 + 33 + 25 + … : 402 of the 3,600 inner iterations.
            assert inner.count() == sum(min(N, 100 // (i + 1)) for i in range(N))
            fourth = page.locator(
                f"{top} details.block[data-block='outer[3].inner'] > p.more-iterations"
            )
            assert f"{N - 25} more iterations not shown" in fourth.text_content()
    finally:
        path.unlink()
