"""The events page's API over the Order Processing template's event store."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from flask.testing import FlaskClient

from ui.bridge import EngineBridge


def test_order_stream_in_order(client: FlaskClient, auth: dict[str, str], order_id: str) -> None:
    body = client.get(f"/api/events/orders/{order_id}", headers=auth).get_json()
    assert [e["event_type"] for e in body["events"]] == [
        "order_created",
        "payment_received",
        "order_shipped",
    ]
    assert [e["aggregate_version"] for e in body["events"]] == [1, 2, 3]
    orders = client.get("/api/events/orders?limit=500", headers=auth).get_json()["orders"]
    assert order_id in {o["order_id"] for o in orders}
    assert client.get("/api/events/orders/no-such-order", headers=auth).status_code == 404


def test_analytics_for_the_charts(client: FlaskClient, auth: dict[str, str], order_id: str) -> None:
    body = client.get("/api/events/analytics", headers=auth).get_json()
    types = {row["event_type"]: row["events"] for row in body["most_common_event_types"]}
    assert types.get("payment_received", 0) >= 1
    assert len(body["events_per_hour"]) == 48


def test_events_page_renders(client: FlaskClient, auth: dict[str, str]) -> None:
    html = client.get("/events", headers=auth).get_data(as_text=True)
    assert 'id="time-slider"' in html and "chart.umd.min.js" in html


def test_an_order_id_with_a_slash_has_its_stream(
    client: FlaskClient, auth: dict[str, str], engine_bridge: EngineBridge
) -> None:
    """`2024/ord-7` was listed but its stream was a 404: the route took one segment."""
    from templates.event_store import append_batch

    oid = f"2024/ui-{uuid.uuid4().hex[:8]}"

    async def setup() -> None:
        async with engine_bridge.runtime.db.pool.acquire() as conn:
            await append_batch(conn, [{"event_type": "order_created", "aggregate_id": oid}])

    engine_bridge.call(setup())
    resp = client.get(f"/api/events/orders/{quote(oid, safe='')}", headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["order_id"] == oid
    assert [e["event_type"] for e in resp.get_json()["events"]] == ["order_created"]


def test_an_order_id_with_a_nul_is_400_not_500(
    client: FlaskClient, auth: dict[str, str], order_id: str
) -> None:
    """`/api/events/orders/%00` reached PostgreSQL, which has no NUL in text: a 500."""
    for path in ("/api/events/orders/%00", f"/api/events/orders/{order_id}%00"):
        resp = client.get(path, headers=auth)
        assert resp.status_code == 400, resp.get_data(as_text=True)
        assert "NUL" in resp.get_json()["error"]
    replay = client.post("/api/events/orders/a%00b/replay", json={}, headers=auth)
    assert replay.status_code == 400, replay.get_data(as_text=True)


def test_each_event_names_its_id_and_the_run_that_stored_it(
    client: FlaskClient, auth: dict[str, str], engine_bridge: EngineBridge, order_id: str
) -> None:
    """An auditor reading an order's stream must tie each event to what names it: the
    state's anomalies, event_correlations, subscriber_outbox, Slack and the runs' errors
    all say `event_id`, which the stream did not give; and to the run that stored it
    (`metadata.workflow_execution_id`), which the page did not show. (``order_id``: the
    template's schema applied.)"""
    from templates.event_store import append_batch

    oid = f"ui-audit-{uuid.uuid4().hex[:8]}"
    run = str(uuid.uuid4())
    given = str(uuid.uuid4())

    async def setup() -> None:
        async with engine_bridge.runtime.db.pool.acquire() as conn:
            await append_batch(
                conn,
                [
                    {"event_type": "order_created", "aggregate_id": oid, "event_id": given,
                     "metadata": {"workflow_execution_id": run}},
                    {"event_type": "item_added", "aggregate_id": oid},
                ],
            )  # fmt: skip

    engine_bridge.call(setup())
    events = client.get(f"/api/events/orders/{oid}", headers=auth).get_json()["events"]
    assert events[0]["event_id"] == given
    stored = engine_bridge.call(
        engine_bridge.runtime.db.pool.fetchval(
            "SELECT event_id::text FROM events WHERE aggregate_id = $1 AND aggregate_version = 2",
            oid,
        )
    )
    assert events[1]["event_id"] == stored
    assert events[0]["metadata"]["workflow_execution_id"] == run
