"""The full lifecycle once more, through the Flask route `POST /webhooks/orders/events`
of the real app (engine on its background loop, as `flowyard serve` runs it)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from es_support import Mailbox, calls, lifecycle, stand_ins, template_workspace
from pytest_httpserver import HTTPServer

from ui.app import create_app
from ui.bridge import EngineBridge


@pytest.fixture(scope="module")
async def served(
    pg_uri: str, make_httpserver: Any, mailbox: Mailbox
) -> AsyncIterator[tuple[Any, EngineBridge]]:
    from engine.runtime import Runtime

    async with template_workspace(pg_uri, make_httpserver.url_for(""), mailbox) as (url, workflows):
        bridge = EngineBridge(
            Runtime(workflows, url, workflows.parent, function_workers=2, resume=False)
        ).start()
        try:
            app = create_app(bridge, token="t0ken", secret_key="k" * 32, workflows_dir=workflows)
            yield app.test_client(), bridge
        finally:
            bridge.stop()


async def test_lifecycle_through_the_flask_route(
    served: tuple[Any, EngineBridge], httpserver: HTTPServer, mailbox: Mailbox
) -> None:
    client, bridge = served
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    before = len(mailbox.messages)
    outputs = []
    for ev in lifecycle(order):
        resp = client.post(
            "/webhooks/orders/events",
            data=json.dumps(ev),
            headers={"Content-Type": "application/json"},
        )
        assert resp.status_code == 202, resp.get_data(as_text=True)
        result = bridge.call(
            bridge.runtime.wait(resp.get_json()["execution_id"], timeout=60), timeout=70
        )
        assert result["status"] == "succeeded", result["error"]
        outputs.append(result["output"])
    assert [o["version"] for o in outputs] == [1, 2, 3, 4] and outputs[-1]["status"] == "delivered"
    assert len(calls(httpserver, "/v1/charges/ch_123/capture")) == 1
    assert len(calls(httpserver, "/slack/hook")) == 1
    assert len(calls(httpserver, "/customer/events")) == 4
    assert len(mailbox.messages) - before == 1
    # An event with its own id, then a redelivery of it: appended once.
    resp = client.post(
        "/webhooks/orders/events",
        data=json.dumps(lifecycle(order)[1] | {"event_id": str(uuid.uuid4())}),
        headers={"Content-Type": "application/json"},
    )
    dup = bridge.call(bridge.runtime.wait(resp.get_json()["execution_id"], timeout=60), timeout=70)
    assert dup["output"]["version"] == 5 and dup["output"]["duplicate"] is False
    resp2 = client.post(
        "/webhooks/orders/events",
        data=json.dumps(lifecycle(order)[1] | {"event_id": dup["output"]["event_id"]}),
        headers={"Content-Type": "application/json"},
    )
    again = bridge.call(
        bridge.runtime.wait(resp2.get_json()["execution_id"], timeout=60), timeout=70
    )
    assert again["output"]["duplicate"] is True and again["output"]["version"] == 5


def test_replay_input_out_of_range_is_a_422_and_a_date_that_does_not_exist_fails_first(
    served: tuple[Any, EngineBridge],
) -> None:
    client, _ = served
    auth = {"Authorization": "Bearer t0ken"}
    url = "/api/workflows/replay_events/runs?wait=1"
    # Past the events table's BIGINT: refused by input_schema before a run starts.
    resp = client.post(url, json={"order_id": "o1", "version": 10**20}, headers=auth)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json()["problems"] == [
        "version: 100000000000000000000 is greater than the maximum of 9223372036854775807"
    ]
    # A time without an offset: the 422 says what is wanted, not the regular expression.
    resp = client.post(url, json={"order_id": "o1", "as_of": "2030-01-02 10:00"}, headers=auth)
    assert resp.status_code == 422
    assert resp.get_json()["problems"] == [
        "as_of: '2030-01-02 10:00' is not ISO timestamp with Z or an offset: the state as it"
        " was then (events at or before it)"
    ]
    # The schema's pattern passes this shape; the first step refuses it, before any SQL.
    resp = client.post(url, json={"order_id": "o1", "as_of": "2030-13-45T99:99:99Z"}, headers=auth)
    run = resp.get_json()
    assert run["status"] == "failed" and run["error"]["block"] == "check_input", run
    assert run["error"]["message"].startswith(
        "as_of '2030-13-45T99:99:99Z' is not a real time: month must be in 1..12"
    )
