"""The events page's slider replays the order whose events it shows, whatever the
order box says meanwhile (docs/pages.md, "/events"). It replayed the box's text at
the moment the slider moved: an id typed without pressing Load put order B's state
beside order A's events (real Chromium, real Replay Events runs)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS, append_order
from tests.ui.test_browser_events_replay import events_page, load  # noqa: F401
from ui.bridge import EngineBridge

pytestmark = BROWSER_TESTS


@pytest.fixture
def other_order(engine_bridge: EngineBridge, order_id: str) -> str:
    """A second order of three events, amounts 7, 8, 9 (order_id's are 10, 20, 30)."""
    oid = f"ui-other-{uuid.uuid4().hex[:8]}"
    append_order(engine_bridge, oid, lambda v: {"amount": 6 + v, "charge_id": "ch_b"})
    return oid


def test_the_slider_replays_the_shown_order_not_the_box(
    events_page: Any,  # noqa: F811
    order_id: str,
    other_order: str,
) -> None:
    page = events_page
    load(page, order_id)
    expect(page.locator("#state[data-version='3']")).to_contain_text(order_id, timeout=30_000)
    page.fill("#order-id", other_order)  # typed, Load not pressed
    page.locator("#time-slider").fill("1")
    state = page.locator("#state[data-version='1']")
    expect(state).to_contain_text(order_id, timeout=30_000)
    assert other_order not in page.inner_text("#state")
    # The events shown are still order A's, and the page says which order the state is.
    expect(page.locator("#event-list li")).to_have_count(3)
    assert other_order not in page.inner_text("#event-list")
    expect(page.locator("#shown-order")).to_have_text(order_id)


def test_a_padded_id_replays_the_order_it_loaded(
    events_page: Any,  # noqa: F811
    order_id: str,
) -> None:
    """Load trims the box's text; the replay sent it as typed, spaces included."""
    page = events_page
    load(page, f"  {order_id} ")
    expect(page.locator("#state[data-version='3']")).to_contain_text(order_id, timeout=30_000)
    page.locator("#time-slider").fill("2")
    expect(page.locator("#state[data-version='2']")).to_contain_text(order_id, timeout=30_000)


def test_a_slow_lookup_of_the_previous_order_does_not_replace_the_next(
    events_page: Any,  # noqa: F811
    order_id: str,
    other_order: str,
) -> None:
    """Load A, then Load B before A's events arrive: A's answer, last in, was shown
    under the box that says B (held here by the browser, not by a timer)."""
    page = events_page
    held: list[Any] = []

    def hold_first(route: Any) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    page.route(f"**/api/events/orders/{order_id}", hold_first)
    page.fill("#order-id", order_id)
    page.click("#order-form button")
    while not held:  # the route's handler runs while Playwright waits
        page.wait_for_timeout(50)
    load(page, other_order)
    expect(page.locator("#shown-order")).to_have_text(other_order)
    with page.expect_response(f"**/api/events/orders/{order_id}"):
        held[0].continue_()
    page.locator("#time-slider").fill("2")
    expect(page.locator("#state[data-version='2']")).to_contain_text(other_order, timeout=30_000)
    assert order_id not in page.inner_text("#events-page")
