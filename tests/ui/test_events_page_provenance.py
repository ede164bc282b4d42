"""The events page says which event is which and where it came from (docs/pages.md,
"/events"): its `event_id`, which the state's anomalies, `event_correlations`, Slack and
the runs' errors name it by, and a link to the run that stored it. It showed each
event's version, type, time and data alone, so an auditor could not tell which listed
event an anomaly or a failed capture meant, nor which run wrote it (real Chromium)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from tests.ui.test_browser_events_replay import events_page  # noqa: F401
from ui.bridge import EngineBridge

pytestmark = BROWSER_TESTS


@pytest.fixture
def audited_order(engine_bridge: EngineBridge, order_id: str) -> tuple[str, str, str]:
    """An order of two events (order_id made the schema): the first stored by a run
    from the shop's event evt-… (as Order Processing writes it), the second imported
    without either."""
    from templates.event_store import append_batch

    oid, run, first = f"ui-prov-{uuid.uuid4().hex[:8]}", str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        {"event_type": "order_created", "aggregate_id": oid, "event_id": first,
         "metadata": {"workflow_execution_id": run, "sender_event_id": f"evt-{oid}"}},
        {"event_type": "item_added", "aggregate_id": oid},
    ]  # fmt: skip

    async def setup() -> None:
        async with engine_bridge.runtime.db.pool.acquire() as conn:
            assert await append_batch(conn, events) == 2

    engine_bridge.call(setup())
    return oid, run, first


def test_each_event_shows_its_id_and_the_run_that_stored_it(
    events_page: Any,  # noqa: F811
    audited_order: tuple[str, str, str],
) -> None:
    page = events_page
    oid, run, first = audited_order
    page.fill("#order-id", oid)
    page.click("#order-form button")
    items = page.locator("#event-list li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text(f"event {first} · sent as evt-{oid}")
    link = items.nth(0).locator("a.event-run")
    expect(link).to_have_attribute("href", f"/runs/{run}")
    expect(items.nth(1)).to_contain_text("event ")
    expect(items.nth(1)).not_to_contain_text("sent as")
    expect(items.nth(1).locator("a.event-run")).to_have_count(0)
