"""`respond: sync` deliveries share the cap on requests that hold a server thread
(ui/long_requests.py): six of them waiting for a held run on a four-thread server
held every thread, and /api/health and async deliveries got no answer. Past the cap
a sync delivery is refused 503 before anything is stored; the rest stay answered.

A real waitress server on 127.0.0.1 over the UI fixtures' app; the run is held on a
gate file. The client timeouts only keep a hanging server from hanging the test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from processes import free_port

from ui import long_requests
from ui.bridge import EngineBridge
from ui.server import make_server

GUARD_S = 90.0
THREADS = 4
SENT = 6  # more than the server has threads

HELD_SYNC = """\
name: sync_held_{suffix}
blocks:
  hook:
    type: webhook
    path: held/{suffix}
    respond: sync
  hold:
    type: function
    timeout: 120
    code: |
      import os, time
      while not os.path.exists({gate!r}):
          time.sleep(0.05)
      return {{"n": input.hook.body.n}}
edges: [hook -> hold]
"""


@pytest.fixture
def four_threads(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app under waitress with four threads, and the cap they give (two)."""
    monkeypatch.setenv("FLOWYARD_THREADS", str(THREADS))
    long_requests.slots.cache_clear()
    server: Any = make_server(app, "127.0.0.1", free_port())
    threading.Thread(target=server.run, name="waitress-four", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        long_requests.slots.cache_clear()


def _runs_keyed(bridge: EngineBridge, keys: list[str]) -> int:
    pool = bridge.runtime.db.log_pool
    sql = "SELECT count(*) FROM flowyard_runs WHERE idempotency_key = ANY($1::text[])"
    return int(bridge.call(pool.fetchval(sql, keys)))


def test_sync_deliveries_past_the_cap_are_refused_and_the_rest_stays_answered(
    four_threads: str, workflows_dir: Path, engine_bridge: EngineBridge, tmp_path: Path
) -> None:
    base, suffix, gate = four_threads, uuid.uuid4().hex[:8], tmp_path / "gate"
    (workflows_dir / f"sync_held_{suffix}.yaml").write_text(
        HELD_SYNC.format(suffix=suffix, gate=str(gate))
    )
    keys = [f"held-{suffix}-{n}" for n in range(SENT)]

    def deliver(n: int) -> httpx.Response:
        return httpx.post(f"{base}/webhooks/held/{suffix}", json={"n": n},
                          headers={"Idempotency-Key": keys[n]}, timeout=GUARD_S)  # fmt: skip

    try:
        with ThreadPoolExecutor(SENT) as senders:
            sent: dict[Future[httpx.Response], int] = {
                senders.submit(deliver, n): n for n in range(SENT)
            }
            # Two wait in the two slots; the four others are answered without waiting.
            refused: list[int] = []
            pending = set(sent)
            while len(refused) < SENT - THREADS // 2:
                done, pending = wait(pending, timeout=GUARD_S, return_when=FIRST_COMPLETED)
                assert done, "no sync delivery was refused: they hold every thread"
                for future in done:
                    resp = future.result()
                    assert resp.status_code == 503, resp.text
                    assert resp.headers["content-type"] == "application/json"
                    assert int(resp.headers["Retry-After"]) > 0
                    assert resp.json()["error"] == "server busy", resp.json()
                    refused.append(sent[future])
            # Meanwhile the other threads answer: the health check, an async delivery.
            health = httpx.get(f"{base}/api/health", timeout=GUARD_S)
            assert health.status_code == 200, health.text
            async_hook = httpx.post(f"{base}/webhooks/test/async", json={}, timeout=GUARD_S)
            assert async_hook.status_code == 202, async_hook.text
            # Refused before anything was stored: the sender's retry is the one run.
            assert _runs_keyed(engine_bridge, [keys[n] for n in refused]) == 0
            gate.write_text("open")
            waited = [future.result() for future in pending]
        assert sorted(r.json()["n"] for r in waited) == sorted(set(range(SENT)) - set(refused))
        retried = [deliver(n) for n in refused]  # the slots are free again
        assert [r.status_code for r in retried] == [200] * len(refused)
        assert _runs_keyed(engine_bridge, keys) == SENT
    finally:
        gate.write_text("open")
