"""A webhook delivery while the database is unreachable: `503` with a reason and
`Retry-After` (so the sender retries), nothing accepted; once it is back, the
retry is accepted.

The engine reaches PostgreSQL through a TCP relay the test can cut (tests/relay.py),
as a stopped server or a broken network would: its pooled connections are dropped
and new ones are refused. Everything else is real: the runtime on its own loop, the
Flask app, the waitress server `flowyard serve` builds.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from relay import Relay

from ui.app import UIConfig, create_app
from ui.bridge import EngineBridge
from ui.server import make_server

HOOK = """\
version: 1
name: db_down_hook
blocks:
  hook:
    type: webhook
    path: db-down/events
  noop:
    type: function
    code: |
      return {"ok": True}
edges:
  - hook -> noop
"""


@pytest.fixture
def served(relayed_url: tuple[str, str, Relay], tmp_path: Path) -> Iterator[str]:
    import blocks  # noqa: F401
    from engine.runtime import Runtime

    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "db_down_hook.yaml").write_text(HOOK)
    rt = Runtime(tmp_path / "workflows", relayed_url[1], tmp_path, function_workers=1, resume=False)
    bridge = EngineBridge(rt).start()
    cfg = UIConfig(bridge, "t" * 20, "k" * 20, tmp_path / "workflows", max_body=1024 * 1024)
    server = make_server(create_app(cfg), "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-test", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        bridge.stop()


async def _runs_of(url: str, workflow: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM flowyard_runs WHERE workflow = $1", workflow)
        )
    finally:
        await conn.close()


def test_a_delivery_while_the_database_is_down_is_503_with_retry_after(
    served: str, relayed_url: tuple[str, str, Relay]
) -> None:
    direct, _, relay = relayed_url
    url = f"{served}/webhooks/db-down/events"
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex[:8]}"}
    relay.cut()
    for _ in range(2):  # pooled connections dropped, then a refused reconnect
        resp = httpx.post(url, json={"n": 1}, headers=key, timeout=60)
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "database unavailable"
        assert int(resp.headers["Retry-After"]) > 0
    assert asyncio.run(_runs_of(direct, "db_down_hook")) == 0  # nothing was accepted
    relay.restore()
    retried = httpx.post(url, json={"n": 1}, headers=key, timeout=60)
    assert retried.status_code == 202, retried.text
    assert asyncio.run(_runs_of(direct, "db_down_hook")) == 1
