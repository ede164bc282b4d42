"""`/api/health` asks the database, not whether a Database block's connection is free.

It asked on the blocks' pool: twenty runs each in a slow query (or a long transaction
group) held its every connection, and health waited its 3 s for one and answered
`503 {"database": "unavailable"}` while the database answered and runs were accepted
— a load balancer took a working server out. It now asks on the run log's pool (what
accepting a run needs) and says the blocks' pool is exhausted, without changing
`status`.
"""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from ui.bridge import EngineBridge


def test_health_is_ok_and_says_so_while_every_block_connection_is_in_use(
    client: FlaskClient, engine_bridge: EngineBridge
) -> None:
    pool = engine_bridge.runtime.db.pool
    held: list[Any] = []

    async def take_all() -> None:
        while len(held) < pool.get_max_size():
            held.append(await pool.acquire())

    async def give_back() -> None:
        while held:
            await pool.release(held.pop())

    engine_bridge.call(take_all(), timeout=60)
    try:
        health = client.get("/api/health")
        assert health.status_code == 200, health.get_json()
        assert health.get_json() == {
            "status": "ok",
            "database": "ok",
            "blocks_pool": "exhausted",
        }
    finally:
        engine_bridge.call(give_back(), timeout=60)
    health = client.get("/api/health")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok", "database": "ok"}
