"""The reason an order was cancelled (Order Processing README: ``cancellation_reason``).

Black-box report: the reducer read only ``reason``, so an ``order_cancelled`` sent
as documented left ``cancellation_reason`` null; and a repeat cancellation (listed
as ``order_cancelled while cancelled``) wiped the stored reason."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer


@pytest.fixture
def oe(lib_path: Path) -> Any:
    import order_events

    return order_events


def ev(etype: str, n: int, **data: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "event_type": etype, "aggregate_id": "o1", "data": data}


def cancelled(oe: Any, **data: Any) -> dict[str, Any]:
    return oe.fold([ev("order_created", 1, email="a@x"), ev("order_cancelled", 2, **data)])


def test_the_documented_key_gives_the_reason(oe: Any) -> None:
    state = cancelled(oe, cancellation_reason="customer request")
    assert state["status"] == "cancelled"
    assert state["cancellation_reason"] == "customer request"


def test_stored_events_with_reason_replay_as_before(oe: Any) -> None:
    """``reason`` is what every earlier release read: an event that carries it (with
    the documented key or without) gives the state it always gave."""
    assert cancelled(oe, reason="fraud")["cancellation_reason"] == "fraud"
    both = cancelled(oe, reason="fraud", cancellation_reason="customer request")
    assert both["cancellation_reason"] == "fraud"
    assert cancelled(oe)["cancellation_reason"] is None


def test_a_repeat_cancellation_keeps_the_reason(oe: Any) -> None:
    first = cancelled(oe, cancellation_reason="fraud")
    for n, data in enumerate(({}, {"reason": "duplicate"}, {"cancellation_reason": None}), 3):
        again = oe.apply_event(first, ev("order_cancelled", n, **data))
        assert again["status"] == "cancelled" and again["cancellation_reason"] == "fraud"
        assert again["anomalies"] == [
            {"event_id": f"e{n}", "reason": "order_cancelled while cancelled"}
        ]
    # A first cancellation without a reason has it filled in, as before.
    unexplained = cancelled(oe)
    later = oe.apply_event(unexplained, ev("order_cancelled", 3, reason="fraud"))
    assert later["cancellation_reason"] == "fraud"


async def test_a_cancellation_sent_as_documented_is_stored_and_replayed(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    rt = es_runtime
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0])
    cancel = {"event_type": "order_cancelled", "order_id": order}
    await deliver(rt, {**cancel, "cancellation_reason": "customer request"})
    await deliver(rt, cancel)  # sent again, without a reason
    state = await rt.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert state["status"] == "cancelled"
    assert state["cancellation_reason"] == "customer request"
    replay = await rt.execute(rt.load_workflow("replay_events"), {"order_id": order})
    assert replay["status"] == "succeeded", replay["error"]
    assert replay["output"]["consistent"] is True
