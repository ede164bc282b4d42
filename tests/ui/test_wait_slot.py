"""ui.long_requests.WaitSlot: a sync delivery's claim on a waiting thread, taken by the
engine loop while it accepts, given back by the request's thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ui import long_requests


@pytest.fixture
def two_slots(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("FLOWYARD_THREADS", "4")
    long_requests.slots.cache_clear()
    yield
    long_requests.slots.cache_clear()


def _free() -> int:
    taken = 0
    while long_requests.slots().acquire(blocking=False):
        taken += 1
    for _ in range(taken):
        long_requests.slots().release()
    return taken


def test_a_slot_is_held_until_released_and_refused_when_none_is_free(two_slots: None) -> None:
    first, second, third = (long_requests.WaitSlot() for _ in range(3))
    assert first.take() and second.take()
    assert not third.take()
    assert _free() == 0
    first.release()
    third.release()  # never held: gives nothing back
    assert _free() == 1
    second.release()
    assert _free() == 2


def test_a_take_after_the_request_gave_up_is_refused_and_leaks_nothing(two_slots: None) -> None:
    # The accept timed out on a stuck loop: the request released first, the loop
    # reached the take afterwards.
    slot = long_requests.WaitSlot()
    slot.release()
    assert not slot.take()
    assert _free() == 2
