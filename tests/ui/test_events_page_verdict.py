"""The events page says what Replay found, not only the state it rebuilt (docs/pages.md,
"/events"). A replay of a broken stream (a version missing, restored from a backup that
lost a row) succeeds with `consistent: false` and its `reasons`; the page showed the
folded state alone, so a compliance user read a state built over a hole as the order's
(real Chromium, real Replay Events runs; the row is removed past the append-only
trigger as in tests/templates/test_replay_stream_integrity.py)."""

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
def holed_order(engine_bridge: EngineBridge, order_id: str) -> str:
    """Three events (order_id made the schema), then version 2 removed."""
    from templates.event_store import append_batch

    oid = f"ui-hole-{uuid.uuid4().hex[:8]}"
    kinds = ("order_created", "payment_received", "order_shipped")
    events = [
        {"event_type": kind, "aggregate_id": oid, "data": {"order_id": oid, "charge_id": "ch_h"}}
        for kind in kinds
    ]

    async def setup() -> None:
        async with engine_bridge.runtime.db.pool.acquire() as conn:
            assert await append_batch(conn, events) == 3
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute(
                    "DELETE FROM events WHERE aggregate_id = $1 AND aggregate_version = 2", oid
                )

    engine_bridge.call(setup())
    return oid


def test_a_replay_that_finds_the_stream_broken_says_so(
    events_page: Any,  # noqa: F811
    holed_order: str,
    order_id: str,
) -> None:
    page = events_page
    page.fill("#order-id", holed_order)
    page.click("#order-form button")
    expect(page.locator("#event-list li")).to_have_count(2)
    expect(page.locator("#state[data-version='3']")).to_contain_text(holed_order, timeout=30_000)
    problems = page.locator("#replay-problems")
    expect(problems).to_be_visible()
    expect(problems).to_contain_text("version 2 is missing")
    # At any point: the stream itself is broken (docs/event-sourcing.md).
    page.locator("#time-slider").fill("1")
    expect(page.locator("#state[data-version='1']")).to_be_visible(timeout=30_000)
    expect(problems).to_contain_text("version 2 is missing")
    # A sound order's replay says nothing of the kind.
    page.fill("#order-id", order_id)
    page.click("#order-form button")
    expect(page.locator("#state[data-version='3']")).to_contain_text(order_id, timeout=30_000)
    expect(problems).to_be_hidden()


def test_a_version_the_stream_lacks_shows_no_state(
    events_page: Any,  # noqa: F811
    holed_order: str,
) -> None:
    """The slider runs over versions 1 to 3: at 2, which no event has, the state of the
    version shown before stayed under "State as of —"."""
    page = events_page
    page.fill("#order-id", holed_order)
    page.click("#order-form button")
    expect(page.locator("#state[data-version='3']")).to_contain_text(holed_order, timeout=30_000)
    page.locator("#time-slider").fill("2")
    expect(page.locator("#state")).to_have_text("no event of this order has version 2")
    assert page.locator("#state").get_attribute("data-version") is None
    expect(page.locator("#as-of")).to_have_text("—")
