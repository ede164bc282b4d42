"""Order Processing (both variants) refuses a webhook body that is not an order
event in its first step, saying so: nothing is stored and no peer is called.
A tester found an empty body failing with "'NoneType' object is not iterable",
and an object as order_id appending an event for an order named "{'a': 1}"."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from blocks.webhook import accept
from templates import instantiate
from tests.templates.es_support import stand_ins

PATHS = ("orders/events", "orders/agent-events")
MUST = "the body must be a JSON object with event_type and order_id (non-empty text)"


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def both(es_runtime: Any) -> Any:
    """The runtime, with the agent variant next to Order Processing. These bodies
    fail before its model step, so no model is ever asked."""
    if not (es_runtime.workflows_dir / "order_processing_agent.yaml").exists():
        instantiate("order_processing_agent", es_runtime.workflows_dir)
    return es_runtime


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"", "it is empty"),
        (b"{}", "it is empty"),
        (b"null", "it is null"),
        (b"[1, 2]", "it is a JSON array"),
        (b'"order_created"', "it is a JSON string"),
        (as_json({"event_type": "item_added", "order_id": {"a": 1}}), "order_id is a JSON object"),
        (
            as_json({"event_type": "item_added", "order_id": 42.5}),
            "order_id 42.5 is not a whole number (an order id is text, or a whole number such as 42)",
        ),
        (
            as_json({"event_type": "item_added", "order_id": 1e20}),
            "order_id 1e+20 is past 9007199254740991 and has a fraction or an exponent, so it"
            " may not be the number sent (send the order id as text, or as digits alone)",
        ),
        (as_json({"event_type": "item_added", "order_id": True}), "order_id is a JSON boolean"),
        (as_json({"event_type": "item_added", "order_id": "  "}), "order_id is empty"),
        (
            as_json({"event_type": "item_added", "order_id": " ord-1"}),
            "order_id has spaces around it",
        ),
        (
            as_json({"event_type": "item_added", "order_id": "o" * 201}),
            "order_id is longer than 200 characters",
        ),
        (as_json({"order_id": "ord-x"}), "event_type is missing"),
        (as_json({"event_type": None, "order_id": "ord-x"}), "event_type is null"),
        (
            as_json({"event_type": ["item_added"], "order_id": "ord-x"}),
            "event_type is a JSON array",
        ),
        (as_json({"event_type": True, "order_id": "ord-x"}), "event_type is a JSON boolean"),
    ],
)
async def test_a_body_that_is_not_an_order_event_fails_in_the_first_step(
    both: Any, httpserver: HTTPServer, path: str, raw: bytes, why: str
) -> None:
    pool = both.db.pool
    stored = await pool.fetchval("SELECT count(*) FROM events")
    called = len(httpserver.log)
    resp = await accept(both, path, "POST", {"Content-Type": "application/json"}, {}, raw)
    assert resp.status == 202, resp.body
    result = await both.wait(resp.body["execution_id"], timeout=60)
    assert result["status"] == "failed"
    error = result["error"]
    assert error["block"] == "enrich", error
    # The Function block adds the line of the step's code that raised.
    assert error["message"].startswith(f"{MUST}: {why}; nothing was stored"), error["message"]
    assert await pool.fetchval("SELECT count(*) FROM events") == stored
    assert len(httpserver.log) == called


async def test_a_whole_number_order_id_is_its_digits(both: Any, httpserver: HTTPServer) -> None:
    """Shops number their orders: 42, "42" and 42.0 (an integer to JSON Schema, and
    what a sender's float prints as; it was refused as "a JSON number") are one order."""
    stand_ins(httpserver)  # the customer system takes its notifications
    order = 4_200_000 + len(httpserver.log) + int(uuid.uuid4().int % 100_000) * 100
    item = {"event_type": "item_added", "sku": "A", "qty": 1, "price_cents": 100}
    for body in ({"event_type": "order_created", "order_id": order, "user_id": "u1"},
                 {**item, "order_id": str(order)}, {**item, "order_id": float(order)}):  # fmt: skip
        resp = await accept(
            both, "orders/events", "POST", {"Content-Type": "application/json"}, {}, as_json(body)
        )
        result = await both.wait(resp.body["execution_id"], timeout=60)
        assert result["status"] == "succeeded", result["error"]
    versions = await both.db.pool.fetch(
        "SELECT aggregate_version FROM events WHERE aggregate_id = $1 ORDER BY 1", str(order)
    )
    assert [r[0] for r in versions] == [1, 2, 3]
