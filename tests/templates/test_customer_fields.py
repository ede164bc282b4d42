"""An ``order_created`` whose customer fields are not text is refused in `enrich`.

Black-box report: ``"email": ["a@example.com", "b@example.com"]`` (or ``5``) got no
confirmation and no reason (``confirmation_skipped: null``), was stored as the
customer's address (the search index then held the text ``'["a@…"]'``), and the
corrected ``order_created`` sent next was skipped as "the order already has an
address": the customer was never confirmed, and nothing said so."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import Mailbox, calls, deliver, lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer


def _order() -> str:
    return f"ord-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"email": ["a@example.com", "b@example.com"]}, "email must be text, not a JSON array"),
        ({"email": 5}, "email must be text, not a JSON number"),
        ({"email": {"to": "a@example.com"}}, "email must be text, not a JSON object"),
        ({"first_name": ["Ada"]}, "first_name must be text, not a JSON array"),
        ({"last_name": True}, "last_name must be text, not a JSON boolean"),
        ({"user_id": {"id": 7}}, "user_id must be text or a whole number, not a JSON object"),
        ({"user_id": 7.5}, "user_id must be text or a whole number, not 7.5"),
    ],
)  # fmt: skip
async def test_customer_fields_that_are_not_text_are_refused_and_a_corrected_order_is_confirmed(
    variant: tuple[Any, str],
    httpserver: HTTPServer,
    mailbox: Mailbox,
    change: dict[str, Any],
    why: str,
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    order = _order()
    created = lifecycle(order)[0]
    refused = await submit(rt, {**created, **change}, path=path)
    assert refused["status"] == "failed" and refused["error"]["block"] == "enrich"
    assert why in refused["error"]["message"] and "not appended" in refused["error"]["message"]
    assert (
        await rt.db.pool.fetchval("SELECT count(*) FROM events WHERE aggregate_id = $1", order) == 0
    )
    assert not [
        r for r in calls(httpserver, "/customer/events") if order in r.get_data(as_text=True)
    ]

    # The sender corrects it: the order is created, confirmed, and indexed as sent.
    corrected = await deliver(rt, {**created, "email": "fixed@example.com"}, path=path)
    out = corrected["output"]
    assert out["version"] == 1 and out["confirmation_skipped"] is None
    confirmed = [
        m for m in mailbox.messages if m["To"] == "fixed@example.com" and order in str(m["Subject"])
    ]
    assert len(confirmed) == 1
    indexed = await rt.db.pool.fetchval(
        "SELECT customer_email FROM order_search_index WHERE order_id = $1", order
    )
    assert indexed == "fixed@example.com"


@pytest.mark.parametrize("user_id", ["u1", 42, 42.0, None])
async def test_a_user_id_that_is_text_or_a_whole_number_is_taken(
    es_runtime: Any, httpserver: HTTPServer, user_id: Any
) -> None:
    stand_ins(httpserver)
    order = _order()
    out = (await deliver(es_runtime, {**lifecycle(order)[0], "user_id": user_id}))["output"]
    assert out["version"] == 1
    state = await es_runtime.db.pool.fetchval(
        "SELECT state FROM order_snapshots WHERE order_id = $1", order
    )
    assert state["customer"]["user_id"] == user_id


async def test_other_events_may_carry_fields_of_those_names_of_their_own(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """Only an order_created's customer fields are read as the customer's."""
    stand_ins(httpserver)
    order = _order()
    await deliver(es_runtime, lifecycle(order)[0])
    item = {"event_type": "item_added", "order_id": order, "sku": "gift",
            "email": ["a@example.com", "b@example.com"], "first_name": {"card": "Ada"}}  # fmt: skip
    assert (await deliver(es_runtime, item))["output"]["version"] == 2


@pytest.mark.parametrize(
    ("address", "why"),
    [(["a@example.com"], "the address is a JSON array, not text"),
     (5, "the address is a JSON number, not text"),
     ({"to": "a@example.com"}, "the address is a JSON object, not text")],
)  # fmt: skip
def test_an_address_no_confirmation_can_go_to_says_why(
    lib_path: Path, address: Any, why: str
) -> None:
    """`enrich` refuses a non-text address; a workflow whose `enrich` was edited not
    to still hears why no confirmation went, rather than nothing."""
    from order_outbox import confirmation

    assert confirmation(None, "order_created", {"email": address}) == {"to": None, "skipped": why}
    assert confirmation(None, "order_created", {}) == {"to": None, "skipped": None}
    assert confirmation(None, "item_added", {"email": address}) == {"to": None, "skipped": None}
