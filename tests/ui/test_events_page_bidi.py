"""The events page writes bidirectional controls (U+202E and kin) of an order's
events and state as their escapes, as the run viewer does (docs/pages.md). Shown as
such, they reordered the text after them: an amount stored as "\\u202e0001" read
1000 on the page, beside an API that said otherwise (real Chromium, real Replay
Events run)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS, append_order
from tests.ui.test_browser_events_replay import events_page, load  # noqa: F401
from ui.bridge import EngineBridge

pytestmark = BROWSER_TESTS

OVERRIDE = "\u202e"


@pytest.fixture
def reversed_order(engine_bridge: EngineBridge) -> str:
    oid = f"ui-bidi-{uuid.uuid4().hex[:8]}"
    append_order(
        engine_bridge, oid, lambda v: {"note": f"{OVERRIDE}0001", "amount": 1, "charge_id": "c"}
    )
    return oid


def test_an_events_bidi_controls_are_shown_escaped(
    events_page: Any,  # noqa: F811
    reversed_order: str,
) -> None:
    page = events_page
    load(page, reversed_order)
    shown = page.inner_text("#event-list")
    assert "\\u202e0001" in shown, shown
    assert OVERRIDE not in shown
    expect(page.locator("#state[data-version='3']")).to_contain_text(reversed_order, timeout=30_000)
    state = page.inner_text("#state")
    assert OVERRIDE not in state, state
