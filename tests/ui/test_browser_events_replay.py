"""The events page's time travel when the server does not wait for the replay
(Debian's chromium, as in test_browser_editor.py).

`POST /api/events/orders/<id>/replay` answers 202 with the run's links and no
output when the server's waiting requests are at their cap (ui/api_runs.py,
wait_for_run), and 504 past the sync limit; the page took either for the state and
showed nothing. The cap is taken here as in test_http_run_wait.py (a slot held),
and the replay is held on the order's lock, which its first block takes shared:
what the page shows while it runs depends on no timing.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import expect

from tests.ui.conftest import BROWSER_TESTS
from ui import long_requests, webhooks
from ui.bridge import EngineBridge

pytestmark = BROWSER_TESTS


@pytest.fixture
def events_page(page: Any, order_id: str) -> Any:
    """The events page with the order loaded; a Replay Events workflow to run."""
    page.request.post(  # 409 when test_browser_editor.py made it already: as good
        "/api/templates/replay_events/instantiate",
        data={"name": "replay_for_events"},
        headers={"X-CSRF-Token": page.get_attribute("meta[name='csrf-token']", "content") or ""},
    )
    page.goto("/events")
    return page


@pytest.fixture
def waits_at_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request that may wait for a run is taken: a replay is answered 202."""
    taken = threading.BoundedSemaphore(1)
    taken.acquire()
    monkeypatch.setattr(long_requests, "slots", lambda: taken)


class OrderLock:
    """The order's lock held exclusively, as an append holds it: a replay waits."""

    KEY = "hashtextextended('flowyard:order:' || $1, 0)"

    def __init__(self, bridge: EngineBridge, database_url: str, order_id: str) -> None:
        self.bridge, self.order_id = bridge, order_id
        self.conn = bridge.call(asyncpg.connect(database_url))
        bridge.call(self.conn.execute(f"SELECT pg_advisory_lock({self.KEY})", order_id))

    def release(self) -> None:
        if not self.conn.is_closed():
            self.bridge.call(self.conn.close())  # the session's lock goes with it


@pytest.fixture
def order_lock(engine_bridge: EngineBridge, database_url: str, order_id: str) -> Iterator[Any]:
    locks: list[OrderLock] = []

    def take() -> OrderLock:
        locks.append(OrderLock(engine_bridge, database_url, order_id))
        return locks[-1]

    yield take
    for lock in locks:
        lock.release()


def load(page: Any, order_id: str) -> None:
    page.fill("#order-id", order_id)
    page.click("#order-form button")
    expect(page.locator("#event-list li")).to_have_count(3)
    expect(page.locator("#time-slider")).to_be_enabled()


@pytest.mark.usefixtures("waits_at_cap")
def test_a_replay_answered_202_is_followed_to_its_output(
    events_page: Any, order_id: str, order_lock: Any
) -> None:
    page = events_page
    load(page, order_id)  # its replay of the last version: 202, followed
    expect(page.locator("#state[data-version='3']")).to_contain_text(
        "order_shipped", timeout=30_000
    )
    lock = order_lock()
    page.locator("#time-slider").fill("1")
    # Held on the order's lock: the page says so, and links the run.
    expect(page.locator("#state")).to_contain_text("the replay is still running")
    link = page.locator("#state a.replay-run")
    expect(link).to_have_attribute("href", re.compile(r"^/runs/[0-9a-f-]{36}$"))
    lock.release()
    expect(page.locator("#state[data-version='1']")).to_contain_text(
        "order_created", timeout=30_000
    )
    assert "order_shipped" not in page.inner_text("#state")
    expect(page.locator("#state a.replay-run")).to_have_count(0)


def test_a_replay_past_the_wait_says_so_and_links_its_run(
    events_page: Any, order_id: str, order_lock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = events_page
    lock = order_lock()  # no replay ends before the limit below
    monkeypatch.setattr(webhooks, "SYNC_TIMEOUT_S", 0.5)
    load(page, order_id)
    expect(page.locator("#state")).to_contain_text("the run did not finish in time")
    expect(page.locator("#state a.replay-run")).to_have_attribute(
        "href", re.compile(r"^/runs/[0-9a-f-]{36}$")
    )
    assert page.locator("#state").get_attribute("data-version") is None
    lock.release()


#: A BIGINT's maximum, and its negative: a double reads them as ±9223372036854775808
#: and JavaScript prints that as 9223372036854776000.
BIG = 2**63 - 1


@pytest.fixture
def big_order(engine_bridge: EngineBridge) -> str:
    """An order whose total and data hold integers past 2**53 (exact in the API)."""
    from templates.event_store import append_batch

    oid = f"ui-big-{uuid.uuid4().hex[:8]}"
    data = {"email": "ada@example.com", "total_cents": BIG, "ref": -BIG, "rate": 0.5, "n": 7}
    created = {"event_type": "order_created", "aggregate_id": oid, "event_version": 2, "data": data}

    async def setup() -> None:
        async with engine_bridge.runtime.db.pool.acquire() as conn:
            assert await append_batch(conn, [created]) == 1

    engine_bridge.call(setup())
    return oid


def test_integers_past_2_53_are_shown_exactly(events_page: Any, big_order: str) -> None:
    """The page showed total_cents 9223372036854775807 as 9223372036854776000 (JSON.parse
    reads numbers as doubles), in the event stream and in the replayed state."""
    page = events_page
    page.fill("#order-id", big_order)
    page.click("#order-form button")
    event = page.locator("#event-list li pre")
    expect(event).to_contain_text(f'"total_cents": {BIG}')
    expect(event).to_contain_text(f'"ref": -{BIG}')
    expect(event).to_contain_text('"rate": 0.5')
    expect(event).to_contain_text('"n": 7')
    state = page.locator("#state[data-version='1']")
    expect(state).to_contain_text(f'"total_cents": {BIG}', timeout=30_000)
    assert "9223372036854776000" not in page.inner_text("#events-page")
