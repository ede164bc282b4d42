"""One order's events sent to two workflows that write the same tables run one at a time.

A black-box round found the customer system told of an order's events twice: an
`order_created` notification was held in `subscriber_outbox` (the customer system
was down), and two `item_added` events of that order, one sent to Order Processing
and one to a `flowyard new order_processing op_copy` copy, ran at once — their
`concurrency_key` was one per workflow — and both sent what the outbox held. The
templates' key is `<webhook.body.order_id>`, and a key is now one for the
whole database.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from blocks._delivery_keys import request_value
from blocks.webhook import accept
from templates import ROOT, instantiate
from tests.templates.es_support import submit


def customer_slow_after(httpserver: HTTPServer, failures: int) -> list[int]:
    """The customer system answers 500 `failures` times, then takes everything, a
    second per notification (the time two runs need to read one held outbox).
    Returns the versions it took, in arrival order."""
    httpserver.clear_all_handlers()
    taken: list[int] = []
    left = [failures]

    def customer(request: Request) -> Response:
        if left[0] > 0:
            left[0] -= 1
            return Response("down", status=500)
        time.sleep(1.0)
        taken.append(request.get_json()["version"])
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/customer/events", method="POST").respond_with_handler(customer)
    httpserver.expect_request("/slack/hook").respond_with_data("ok")
    return taken


async def test_two_workflows_send_one_orders_held_notification_once(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    if not (es_runtime.workflows_dir / "op_copy.yaml").exists():
        instantiate("order_processing", es_runtime.workflows_dir, "op_copy")
    taken = customer_slow_after(httpserver, failures=2)  # order_created's two attempts
    number = random.randrange(10**6, 10**9)  # the shop numbers its orders
    created = {"event_type": "order_created", "order_id": str(number), "user_id": "u1",
               "email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace",
               "event_version": 2, "total_cents": 1250, "items": [{"sku": "A", "qty": 1}]}  # fmt: skip
    first = await submit(es_runtime, created)
    assert first["status"] == "failed"  # stored; its notification held for the next run

    async def item(path: str, order_id: Any, sku: str) -> str:
        body = {"event_type": "item_added", "order_id": order_id, "sku": sku}
        headers = {"Content-Type": "application/json"}
        resp = await accept(es_runtime, path, "POST", headers, {}, json.dumps(body).encode())
        assert resp.status == 202, resp.body
        return resp.body["execution_id"]

    # At the same moment, to each workflow; 42 and "42" are one order.
    ids = await asyncio.gather(
        item("orders/events", str(number), "B"), item("op_copy/events", number, "C")
    )
    results = [await es_runtime.wait(eid, timeout=120) for eid in ids]
    assert [r["status"] for r in results] == ["succeeded"] * 2, [r["error"] for r in results]
    assert taken == [1, 2, 3]  # each notification once, in version order


def test_the_order_templates_key_one_order_alike() -> None:
    """Order Processing and its Agent variant share the key of an order, whether
    its id came as a number or as its digits, and a key nothing else uses."""
    keys = set()
    for template in ("order_processing", "order_processing_agent"):
        text = (ROOT / template / "workflow.yaml").read_text()
        hook = yaml.safe_load(text)["blocks"]["webhook"]
        for order_id in (42, "42"):
            payload = {"body": {"event_type": "item_added", "order_id": order_id}}
            keys.add(request_value(hook["concurrency_key"], "webhook", payload, template))
    assert keys == {"42"}  # the bare id, as copies made by earlier releases key it
