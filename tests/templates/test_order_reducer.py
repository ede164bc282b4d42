"""The shared reducer and upcasters, imported from lib/ as a Function block does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture
def oe(lib_path: Path) -> Any:
    import order_events

    return order_events


def ev(etype: str, n: int, version: int = 1, **data: Any) -> dict[str, Any]:
    return {
        "event_id": f"00000000-0000-0000-0000-{n:012d}",
        "event_type": etype,
        "event_version": version,
        "aggregate_id": "ord-1",
        "data": data,
        "metadata": {"timestamp": f"2025-01-01T00:00:{n:02d}Z"},
    }


def lifecycle(v1: bool = False) -> list[dict[str, Any]]:
    created = (
        ev(
            "order_created",
            1,
            1,
            name="Ada Lovelace",
            email="ada@example.com",
            items=[{"sku": "A", "qty": 1}],
        )
        if v1
        else ev(
            "order_created",
            1,
            2,
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.com",
            items=[{"sku": "A", "qty": 1}],
        )
    )
    paid = (
        ev("payment_received", 2, 1, charge_id="ch_1", amount=12.5, currency="eur")
        if v1
        else ev("payment_received", 2, 2, charge_id="ch_1", amount_cents=1250, currency="eur")
    )
    return [
        created,
        paid,
        ev("order_shipped", 3, carrier="DHL", tracking_number="T1"),
        ev("order_delivered", 4, delivered_at="2025-01-03"),
    ]


def test_lifecycle_states(oe: Any) -> None:
    statuses = []
    state = None
    for e in lifecycle():
        state = oe.apply_event(state, e)
        statuses.append(state["status"])
    assert statuses == ["pending", "paid", "shipped", "delivered"]
    assert state["payment"]["charge_id"] == "ch_1"
    assert state["shipping"] == {"carrier": "DHL", "tracking_number": "T1", "shipped_at": None}
    assert state["customer"]["first_name"] == "Ada"
    assert state["anomalies"] == []
    assert state["order_id"] == "ord-1"


def test_tracking_scans_keep_the_state_small(oe: Any) -> None:
    shipped = oe.fold(lifecycle()[:3])
    state = oe.fold(
        [ev("tracking_updated", 10 + i, location=f"hub {i}") for i in range(50)], shipped
    )
    assert state["shipping"]["scans"] == 50 and state["shipping"]["location"] == "hub 49"
    assert shipped["shipping"].get("scans") is None  # the earlier state is untouched
    assert state["anomalies"] == []


def test_cancel_keeps_reason(oe: Any) -> None:
    state = oe.fold([lifecycle()[0], ev("order_cancelled", 2, reason="changed mind")])
    assert state["status"] == "cancelled" and state["cancellation_reason"] == "changed mind"


def test_upcast_v1_replays_equal_to_v2(oe: Any) -> None:
    assert oe.fold(lifecycle(v1=True)) == oe.fold(lifecycle(v1=False))
    up = oe.upcast(lifecycle(v1=True)[0])
    assert up["event_version"] == 2
    assert up["data"]["first_name"] == "Ada" and up["data"]["last_name"] == "Lovelace"
    assert "name" not in up["data"]


def test_upcast_is_a_copy_and_current_events_pass_through(oe: Any) -> None:
    e = lifecycle(v1=True)[0]
    before = json.dumps(e, sort_keys=True)
    oe.upcast(e)
    assert json.dumps(e, sort_keys=True) == before
    current = lifecycle()[2]
    assert oe.upcast(current) == current


def test_missing_upcaster_is_an_error_naming_the_step(
    oe: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(oe.CURRENT_VERSION, "order_shipped", 3)
    with pytest.raises(LookupError, match="order_shipped v1 -> v2"):
        oe.upcast(ev("order_shipped", 1))


def test_unknown_and_out_of_order_events_are_recorded_not_raised(oe: Any) -> None:
    state = oe.fold([ev("gift_wrapped", 1), ev("order_delivered", 2)])
    reasons = [a["reason"] for a in state["anomalies"]]
    assert reasons == ["unknown event type 'gift_wrapped'", "order_delivered while new"]
    assert state["status"] == "delivered"


def test_reducer_does_not_mutate_its_input(oe: Any) -> None:
    s1 = oe.apply_event(None, lifecycle()[0])
    frozen = json.dumps(s1, sort_keys=True)
    oe.apply_event(s1, ev("item_added", 2, sku="B"))
    assert json.dumps(s1, sort_keys=True) == frozen


def test_event_from_row(oe: Any) -> None:
    import uuid

    row = {
        "event_id": uuid.UUID(int=5),
        "event_type": "order_created",
        "event_version": 1,
        "aggregate_id": "o",
        "data": {"name": "A B"},
        "metadata": {},
    }
    e = oe.event_from_row(row)
    assert e["event_id"] == str(uuid.UUID(int=5))
    assert oe.apply_event(None, e)["customer"]["last_name"] == "B"


_event = st.sampled_from(
    [
        "order_created",
        "item_added",
        "payment_received",
        "order_shipped",
        "tracking_updated",
        "order_delivered",
        "order_cancelled",
        "other",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(_event, st.integers(1, 2), st.integers(0, 99)), max_size=30),
    st.integers(0, 30),
)
def test_fold_from_any_snapshot_equals_fold_from_start(
    lib_path_session: Any, seq: list[tuple[str, int, int]], cut: int
) -> None:
    """Snapshots are safe: folding the prefix, then the rest, equals one fold;
    and the state is plain JSON (what a JSONB snapshot round-trips)."""
    oe = lib_path_session
    events = [
        ev(t, i, v, sku=f"s{x}", name="A B", amount=x / 4, amount_cents=x * 25)
        for i, (t, v, x) in enumerate(seq)
    ]
    cut = min(cut, len(events))
    full = oe.fold(events)
    snap = oe.fold(events[:cut])
    snap = json.loads(json.dumps(snap)) if snap is not None else None
    assert oe.fold(events[cut:], snap) == full
    assert json.loads(json.dumps(full)) == full


@pytest.mark.parametrize(
    ("sent", "cents"),
    [
        ("19.99", 1999),
        ("123456789012345.67", 12345678901234567),
        ("45035996273704.97", 4503599627370497),
        ("92233720368547758", 9223372036854775800),
    ],
)
def test_a_v1_amount_enrich_takes_upcasts_to_its_exact_cents(
    oe: Any, sent: str, cents: int
) -> None:
    """`enrich` takes a v1 `amount` with at most two decimals up to BIGINT's maximum in
    cents; the upcast multiplied it as a float, so past about 2**53 cents it was off by
    cents (123456789012345.67 became 12345678901234568) and, at the top, past BIGINT.
    The payment's state, its check against the order and the capture's confirmation
    all read that number."""
    from order_inputs import read_data

    data = json.loads(f'{{"charge_id": "ch_1", "amount": {sent}}}')  # as the webhook reads it
    read_data(dict(data), "payment_received")  # enrich takes it
    assert oe.upcast(ev("payment_received", 1, **data))["data"]["amount_cents"] == cents


def test_a_v1_amount_stored_with_more_decimals_replays_as_it_did(oe: Any) -> None:
    """Stored before `enrich` refused a third decimal: its cents stay what the float
    upcast gave (half to even, after the float's error), or replays of those orders
    would disagree with their snapshots."""
    for amount, cents in ((0.125, 12), (2.675, 268), (1.005, 100)):
        up = oe.upcast(ev("payment_received", 1, charge_id="ch_1", amount=amount))
        assert up["data"]["amount_cents"] == cents
