"""A read that takes longer than a request may wait, on a database that answers, is
said as what it is: `504`, "reading the run took longer than N s". It was a `503
{"error": "database unavailable"}` while `/api/health` said ok (a run of 29 MB): the
wait's TimeoutError is an OSError, taken for an outage. A database that does not
answer (frozen: a paused VM, packets dropped) still gets the 503.

The read is made slow with a real lock: another connection holds the run log's events
table (LOCK … ACCESS EXCLUSIVE), so reading a run waits while `SELECT 1` and the
health check answer. Everything is real: runtime, Flask app, waitress, PostgreSQL.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NamedTuple

import asyncpg
import httpx
import pytest
import pytest_asyncio
from db_helpers import new_database
from frozen_database import frozen

from ui.app import UIConfig, create_app
from ui.bridge import EngineBridge
from ui.server import make_server

TOKEN = "t" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: How long reading a run may take here (30 s in `serve`).
READ_TIMEOUT_S = 2.0

HELLO = """
name: slow_read
blocks:
  start: {type: manual}
  say: {type: function, code: "return {'hello': 'world'}"}
edges: [start -> say]
"""


class Served(NamedTuple):
    url: str
    database: str  # its own database, on the tests' embedded server
    execution_id: str  # a run that succeeded


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    import blocks  # noqa: F401
    from engine.runtime import Runtime

    url = asyncio.run(new_database(database_url, "slow_read"))
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "slow_read.yaml").write_text(HELLO)
    rt = Runtime(workflows, url, tmp_path, function_workers=1, resume=False)
    bridge = EngineBridge(rt).start()
    cfg = UIConfig(bridge, TOKEN, "k" * 20, workflows, read_timeout=READ_TIMEOUT_S)
    server = make_server(create_app(cfg), "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-slow-read", daemon=True).start()
    base = f"http://127.0.0.1:{server.effective_port}"
    try:
        ran = httpx.post(f"{base}/api/workflows/slow_read/runs?wait=1", headers=AUTH, json={})
        assert ran.status_code == 200 and ran.json()["status"] == "succeeded", ran.text
        yield Served(base, url, ran.json()["execution_id"])
    finally:
        server.close()
        bridge.stop()


@pytest_asyncio.fixture
async def events_locked(served: Served) -> AsyncIterator[None]:
    """The run log's events table locked by another connection: reads of it wait."""
    conn = await asyncpg.connect(served.database)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("LOCK TABLE flowyard_run_events IN ACCESS EXCLUSIVE MODE")
        yield
        await tx.rollback()
    finally:
        await conn.close()


async def test_a_slow_read_of_a_healthy_database_is_a_504_that_says_so(
    served: Served, events_locked: None
) -> None:
    async with httpx.AsyncClient(base_url=served.url, headers=AUTH, timeout=60) as client:
        answer = await client.get(f"/api/runs/{served.execution_id}")
        assert answer.status_code == 504, answer.text
        body = answer.json()
        assert body["error"] == "reading the run took longer than 2 s"
        assert "the database answers" in body["reason"]
        assert "Retry-After" not in answer.headers
        health = await client.get("/api/health")  # what an operator checks next
        assert health.status_code == 200 and health.json()["database"] == "ok"


def test_a_read_the_frozen_database_does_not_answer_is_still_503(
    served: Served, workspace: Path
) -> None:
    with frozen(workspace):
        answer = httpx.get(f"{served.url}/api/runs/{served.execution_id}", headers=AUTH, timeout=60)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "database unavailable"
    assert answer.headers["Retry-After"] == "5"
