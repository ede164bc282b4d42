"""A payment whose currency or amount is not the order's is stored and captured,
listed as an anomaly, and said in Slack (both variants).

Black-box report bb81 #4: an order in EUR for 1000 cents took a payment in USD (or of
500, or 999999 cents): captured, status paid, Slack "ready for fulfillment", and
nothing in `state.anomalies`. The check is a new rule of the fold, so it applies to
events stored with it (metadata `rules` 2): a payment stored before replays to the
state it gave, and an existing database stays consistent."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import VARIANTS, calls, charge, deliver, stand_ins
from pytest_httpserver import HTTPServer


@pytest.mark.parametrize(
    ("currency", "amount", "reasons"),
    [
        ("USD", 1000, ["payment_received currency USD is not the order's EUR"]),
        ("EUR", 500, ["payment_received amount_cents 500 is not the order's total_cents 1000"]),
        ("usd", 999999, ["payment_received currency usd is not the order's EUR",
                         "payment_received amount_cents 999999 is not the order's total_cents"
                         " 1000"]),
        ("eur", 1000, []),  # Stripe writes currencies in lower case
    ],
)  # fmt: skip
async def test_a_payment_not_as_ordered_is_stored_captured_and_listed(
    variant: tuple[Any, str],
    httpserver: HTTPServer,
    currency: str,
    amount: int,
    reasons: list[str],
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    order, charge_id = f"amt-{tag}", f"ch_amt_{tag}"
    httpserver.expect_request(f"/v1/charges/{charge_id}/capture", method="POST").respond_with_json(
        charge(charge_id, amount)
    )
    created = {"event_type": "order_created", "order_id": order, "email": "ada@example.com",
               "currency": "EUR", "total_cents": 1000, "event_version": 2}  # fmt: skip
    await deliver(rt, created, path=path)
    paid = {"event_type": "payment_received", "order_id": order, "charge_id": charge_id,
            "currency": currency, "amount_cents": amount, "event_version": 2}  # fmt: skip
    result = await deliver(rt, paid, path=path)
    out = result["output"]
    assert (out["capture"], out["status"]) == ("succeeded", "paid")  # stored, not refused
    state = await rt.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert [a["reason"] for a in state["anomalies"] if a["event_id"] == out["event_id"]] == reasons
    [text] = [r.get_json()["text"] for r in calls(httpserver, "/slack/hook")
              if order in r.get_json()["text"]]  # fmt: skip
    if reasons:
        assert "ready for fulfillment" not in text
        said = "; ".join(r.removeprefix("payment_received ") for r in reasons)
        assert f"but the payment is not what the order says ({said}): check it" in text
    else:
        assert text == f"Order {order} is paid (charge {charge_id}): ready for fulfillment."
    replay = await rt.execute(rt.load_workflow(VARIANTS[path]), {"order_id": order})
    assert replay["status"] == "succeeded", replay["error"]
    assert replay["output"]["consistent"] is True


def ev(etype: str, n: int, metadata: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    return {"event_id": f"e{n}", "event_type": etype, "data": data, "metadata": metadata or {}}


def test_a_payment_stored_before_the_rule_replays_as_it_did(lib_path: Path) -> None:
    """The rule is versioned with the event (metadata `rules`, order_rules.RULES_VERSION):
    events without it are read as version 1, which did not check the payment."""
    from order_events import fold
    from order_rules import RULES_VERSION, rules_version

    created = ev("order_created", 1, currency="EUR", total_cents=1000)
    before = fold([created, ev("payment_received", 2, charge_id="ch", currency="USD",
                               amount_cents=5)])  # fmt: skip
    assert before["anomalies"] == [] and before["status"] == "paid"
    now = fold([created, ev("payment_received", 2, {"rules": RULES_VERSION}, charge_id="ch",
                            currency="USD", amount_cents=5)])  # fmt: skip
    assert [a["reason"] for a in now["anomalies"]] == [
        "payment_received currency USD is not the order's EUR",
        "payment_received amount_cents 5 is not the order's total_cents 1000",
    ]
    assert now["payment"] == before["payment"]  # applied all the same
    assert [rules_version(m) for m in (None, {}, {"rules": "2"}, {"rules": True}, {"rules": 2})] == [
        1, 1, 1, 1, 2,
    ]  # fmt: skip


def test_the_webhook_stores_its_events_under_the_current_rules(lib_path: Path) -> None:
    from order_intake import read_order_event
    from order_rules import RULES_VERSION

    webhook = {"body": {"event_type": "item_added", "order_id": "o1"}, "headers": {},
               "received_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    assert read_order_event(webhook, "run-1", None, {})["metadata"]["rules"] == RULES_VERSION


async def test_a_second_payment_refused_for_a_short_one_is_not_told_to_be_released(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    """An order of 1000 paid 500 (captured, listed as short: the shop may take a
    partial payment), then a second payment of 500, the balance: an order is paid once,
    so it is refused and not captured, and Slack told staff "The order's own payment
    stands: fulfil on it, and release this charge": ship an order half paid and give
    the customer's balance back. Slack now says the order's payment is short and that
    this charge may be its balance: check before fulfilling or releasing it."""
    rt, path = variant
    stand_ins(httpserver)
    tag = uuid.uuid4().hex[:8]
    order, first, second = f"bal-{tag}", f"ch_dep_{tag}", f"ch_bal_{tag}"
    for charge_id in (first, second):
        httpserver.expect_request(
            f"/v1/charges/{charge_id}/capture", method="POST"
        ).respond_with_json(charge(charge_id, 500))
    created = {"event_type": "order_created", "order_id": order, "email": "ada@example.com",
               "currency": "EUR", "total_cents": 1000, "event_version": 2}  # fmt: skip
    await deliver(rt, created, path=path)
    for charge_id in (first, second):
        paid = {"event_type": "payment_received", "order_id": order, "charge_id": charge_id,
                "currency": "EUR", "amount_cents": 500, "event_version": 2}  # fmt: skip
        out = (await deliver(rt, paid, path=path))["output"]
    assert out["capture"] == "refused" and out["capture_refused"].startswith(
        "the order is already paid"
    )
    assert len(calls(httpserver, f"/v1/charges/{second}/capture")) == 0
    [text] = [r.get_json()["text"] for r in calls(httpserver, "/slack/hook")
              if second in r.get_json()["text"]]  # fmt: skip
    assert "fulfil on it" not in text and "and release this charge" not in text, text
    assert "amount_cents 500 is not the order's total_cents 1000" in text, text
    assert "may be its balance" in text, text
