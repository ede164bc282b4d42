"""`serve --no-worker`: a `respond: sync` delivery already accepted, waiting for the
run a `flowyard worker` executes, when the database goes away. The server reads the
run's end from the database: the failed read was answered with the pages' HTML 503,
or a 500 (asyncpg's "another operation is in progress" of a connection the server
ended). Now: 503 JSON with Retry-After and the run's links, and a resend with the
same key is answered with that run once the database is back.

Real processes: the server reaches PostgreSQL through the tests' relay, cut as a
stopped server would be; the worker reaches it directly and runs on.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import httpx
import pytest
from processes import free_port, start, stop

from engine.database import server_unreachable

ROOT = Path(__file__).resolve().parent.parent
GUARD_S = 60.0  # only so that a hanging server fails the test instead of hanging it

HELD_SYNC = """\
name: sync_outage_{suffix}
blocks:
  hook:
    type: webhook
    path: outage/{suffix}
    respond: sync
  hold:
    type: function
    timeout: 120
    code: |
      import os, time
      open({started!r}, "w").close()
      while not os.path.exists({gate!r}):
          time.sleep(0.05)
      return {{"n": input.hook.body.n}}
edges: [hook -> hold]
"""


class Served(NamedTuple):
    url: str
    relay: Any
    started: Path
    gate: Path
    log: Path


@pytest.fixture
def served(relayed_url: tuple[str, str, Any], tmp_path: Path) -> Iterator[Served]:
    direct, through, relay = relayed_url
    suffix = uuid.uuid4().hex[:8]
    started, gate = tmp_path / "started", tmp_path / "gate"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "held.yaml").write_text(
        HELD_SYNC.format(suffix=suffix, started=str(started), gate=str(gate))
    )
    port = free_port()
    env = {
        **os.environ,
        "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "outage-token",
        "FLOWYARD_QUEUE": f"sync-outage-{suffix}",
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path / "serve.log"
    server = start(
        ["serve", "--no-worker", "--port", str(port)],
        {**env, "DATABASE_URL": through},
        tmp_path,
        log,
    )
    worker = start(
        ["worker", "--concurrency", "2"], {**env, "DATABASE_URL": direct}, tmp_path,
        tmp_path / "worker.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/api/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Served(f"{url}/webhooks/outage/{suffix}", relay, started, gate, log)
    finally:
        gate.write_text("open")
        relay.cut(missing_ok=True)
        stop([server, worker])


def test_an_accepted_sync_delivery_is_answered_503_json_when_the_database_goes_away(
    served: Served,
) -> None:
    key = f"outage-{uuid.uuid4().hex[:8]}"

    def deliver() -> httpx.Response:
        return httpx.post(served.url, json={"n": 7}, headers={"Idempotency-Key": key},
                          timeout=GUARD_S)  # fmt: skip

    with ThreadPoolExecutor(1) as sender:
        waiting = sender.submit(deliver)
        deadline = time.monotonic() + GUARD_S
        while not served.started.exists():  # the worker runs it; the server waits
            assert time.monotonic() < deadline and not waiting.done(), served.log.read_text()
            time.sleep(0.05)
        served.relay.cut()  # the server's database is gone
        resp = waiting.result()
    assert resp.status_code == 503, resp.text
    assert resp.headers["content-type"] == "application/json", resp.text
    assert int(resp.headers["Retry-After"]) > 0
    body = resp.json()
    assert body["error"] == "database unavailable", body
    assert body["status_url"] == f"/api/runs/{body['execution_id']}"

    served.relay.restore()
    served.gate.write_text("open")
    again = deliver()  # the sender's retry: that run's output, no second run
    assert again.status_code == 200, again.text
    assert again.json() == {"n": 7}


def test_a_pooled_connection_the_server_ended_while_idle_is_an_outage() -> None:
    """What asyncpg raises for a statement sent on a pooled connection whose FATAL
    "terminating connection" it read while idle, before the socket's end
    (MagicStack/asyncpg#1069): an outage to retry, not a bug (a 500)."""
    ended = asyncpg.InternalClientError(
        "cannot switch to state 12; another operation (2) is in progress"
    )
    assert server_unreachable(ended)
    assert not server_unreachable(asyncpg.InternalClientError("unknown error in protocol"))
