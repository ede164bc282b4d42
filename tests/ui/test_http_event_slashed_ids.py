"""An order id that starts with a slash (`/ord-1`, text the webhook takes) names its own
order in the events API. The path `/api/events/orders/%2Ford-1` reached routing as
`orders//ord-1`, whose doubled slash werkzeug merged with a 308 to `orders/ord-1`: the
events page, following it, showed order `ord-1`'s events and replayed `ord-1` (the POST
is redirected as it is) under the id `/ord-1`."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient

from ui.bridge import EngineBridge


@pytest.fixture
def orders(engine_bridge: EngineBridge, order_id: str) -> tuple[str, str]:
    """Orders `x` and `/x`: one event each, `/x`'s with 2 items, `x`'s with 1."""
    from templates.event_store import append_batch

    plain = f"ui-slash-{uuid.uuid4().hex[:8]}"
    slashed = f"/{plain}"

    def created(oid: str, items: int) -> dict[str, object]:
        data = {"order_id": oid, "items": [{"sku": "A", "quantity": 1}] * items}
        return {"event_type": "order_created", "aggregate_id": oid, "data": data}

    async def setup() -> None:
        async with engine_bridge.runtime.db.pool.acquire() as conn:
            assert await append_batch(conn, [created(plain, 1), created(slashed, 2)]) == 2

    engine_bridge.call(setup())
    return plain, slashed


def test_a_slashed_order_id_reads_its_own_events(
    client: FlaskClient, auth: dict[str, str], orders: tuple[str, str]
) -> None:
    _, slashed = orders
    answer = client.get(f"/api/events/orders/%2F{slashed[1:]}", headers=auth)
    assert answer.status_code == 200, answer.status
    body = answer.get_json()
    assert body["order_id"] == slashed
    assert [len(e["data"]["items"]) for e in body["events"]] == [2]


def test_a_slashed_order_id_replays_its_own_order(
    client: FlaskClient, auth: dict[str, str], orders: tuple[str, str]
) -> None:
    _, slashed = orders
    client.post(  # 409 when another test made it: as good
        "/api/templates/replay_events/instantiate", json={"name": "replay_for_events"}, headers=auth
    )
    answer = client.post(f"/api/events/orders/%2F{slashed[1:]}/replay", json={}, headers=auth)
    assert answer.status_code == 200, answer.status
    state = answer.get_json()["output"]["state"]
    assert state["order_id"] == slashed
    assert len(state["items"]) == 2
