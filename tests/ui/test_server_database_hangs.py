"""A webhook delivery while PostgreSQL hangs (frozen with SIGSTOP, as a paused VM or
a network dropping packets leaves it: connections open, no answer). The delivery
is answered `503` with Retry-After once FLOWYARD_ACCEPT_TIMEOUT has passed, as for
a database that refuses — it waited as long as the database hung, then past 330 s
got a `504 the run did not finish` for a run never stored.

An INSERT the delivery had sent may still commit once PostgreSQL goes on: that run
is executed by the process that owns it. It stayed `queued` for good, and a resend
with its key was answered `202 duplicate`, never applied.

The server is the one `flowyard serve` builds (its runtime with a queue worker, the
waitress server) on a database of the test's own, its timings short.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg
import httpx
import pytest
from db_helpers import new_database
from frozen_database import frozen
from held_runs import until

from ui.app import UIConfig, create_app
from ui.server import make_runtime, make_server, start_background

HOOK = """\
version: 1
name: frozen_hook
blocks:
  hook:
    type: webhook
    path: frozen/events
  note:
    type: function
    code: |
      with open({log!r}, "a") as f:
          f.write(str(input.hook.body["n"]) + "\\n")
      return {{"noted": True}}
edges:
  - hook -> note
"""

ACCEPT_TIMEOUT_S = 1.0


class Served(NamedTuple):
    url: str  # the webhook's URL
    direct: str  # the test's database
    log: Path  # one line per run of `note`
    health: str  # /api/health's URL
    bridge: Any


@contextlib.contextmanager
def _serving(database_url: str, folder: Path, accept_timeout: float) -> Iterator[Served]:
    from ui.bridge import EngineBridge

    direct = asyncio.run(new_database(database_url, "hangs"))
    workflows, log = folder / "workflows", folder / "note.log"
    workflows.mkdir()
    (workflows / "frozen_hook.yaml").write_text(HOOK.format(log=str(log)))
    bridge = EngineBridge(make_runtime(workflows, folder, True, direct)).start()
    background = start_background(bridge, worker=True, concurrency=2)
    cfg = UIConfig(bridge, "t" * 20, "k" * 20, workflows, accept_timeout=accept_timeout)
    server: Any = make_server(create_app(cfg), "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-test", daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.effective_port}"
        served = Served(f"{url}/webhooks/frozen/events", direct, log, f"{url}/api/health", bridge)
        warm = httpx.post(served.url, json={"n": 0}, headers={"Idempotency-Key": "warm"})
        assert warm.status_code == 202, warm.text
        yield served
    finally:
        server.close()
        bridge.call(background.close(), timeout=30)
        bridge.stop()


@pytest.fixture
def served(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.setattr("engine.runtime.HEARTBEAT_S", 0.2)  # beats and sweeps this often
    with _serving(database_url, tmp_path, ACCEPT_TIMEOUT_S) as served:
        yield served


def _open_connections(bridge: Any) -> None:
    """Fill the run-log pool with open connections: frozen, a statement is sent on
    one of them and gets no answer (not stuck connecting, which is cancelled apart
    from the database)."""
    pool = bridge.runtime.db.log_pool

    async def busy() -> None:
        await asyncio.gather(*(pool.fetchval("SELECT pg_sleep(0.2)") for _ in range(8)))

    bridge.call(busy())


async def _runs_of(direct: str, key: str) -> list[Any]:
    conn = await asyncpg.connect(direct)
    try:
        return await conn.fetch(
            "SELECT execution_id::text AS execution_id, status FROM flowyard_runs"
            " WHERE workflow = 'frozen_hook' AND idempotency_key = $1",
            key,
        )
    finally:
        await conn.close()


def _deliver(served: Served, key: str, n: int = 1, wait: float = 30) -> httpx.Response:
    return httpx.post(served.url, json={"n": n}, headers={"Idempotency-Key": key}, timeout=wait)


def _assert_not_answered(resp: httpx.Response) -> None:
    assert resp.status_code == 503, resp.text
    body = resp.json()
    assert body["error"] == "database unavailable"
    assert "did not answer in time" in body["reason"], body
    assert body["retry_after"] == int(resp.headers["Retry-After"]) > 0


def _ran_once(served: Served, key: str) -> str:
    """The one run of ``key``, once it succeeded; `note` ran once for it."""

    async def succeeded() -> bool:
        runs = await _runs_of(served.direct, key)
        return len(runs) == 1 and runs[0]["status"] == "succeeded"

    assert asyncio.run(until(succeeded)), asyncio.run(_runs_of(served.direct, key))
    assert served.log.read_text().split() == ["0", "1"]
    return str(asyncio.run(_runs_of(served.direct, key))[0]["execution_id"])


def test_a_delivery_the_frozen_database_does_not_answer_is_503_then_its_retry_runs_once(
    served: Served, workspace: Path
) -> None:
    key = f"k-{uuid.uuid4().hex[:8]}"
    with frozen(workspace):
        _assert_not_answered(_deliver(served, key))
    # Resent, as the 503 asks: whether the first INSERT committed once PostgreSQL went
    # on or not, the event is applied, once.
    again = _deliver(served, key)
    assert again.status_code == 202, again.text
    assert _ran_once(served, key) == again.json()["execution_id"]


def test_a_run_stored_after_its_delivery_was_answered_503_is_executed(
    served: Served, workspace: Path
) -> None:
    """The INSERT waits (here on a lock: a transaction holding the same key) past the
    delivery's time limit, and commits after the 503: the postmaster is frozen once the
    INSERT waits, so the cancel the delivery sends cannot stop it, as when the database
    resumes before the cancel reaches it."""
    key = f"k-{uuid.uuid4().hex[:8]}"
    waits = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND query LIKE '%INSERT INTO flowyard_runs%'"
    )

    async def scenario() -> httpx.Response:
        conn = await asyncpg.connect(served.direct)
        # Out of `conn`'s transaction, which sees pg_stat_activity as first read.
        watcher = await asyncpg.connect(served.direct)
        try:
            holder = conn.transaction()
            await holder.start()
            await conn.execute(
                "INSERT INTO flowyard_runs (execution_id, workflow, status, trigger,"
                " idempotency_key, key_scope) VALUES (gen_random_uuid(), 'frozen_hook',"
                " 'queued', 'webhook', $1, 'webhook:hook')",
                key,
            )
            delivery = asyncio.ensure_future(asyncio.to_thread(_deliver, served, key))
            assert await until(lambda: watcher.fetchval(waits)), "the INSERT never waited"
            with frozen(workspace, only_postmaster=True):
                resp = await delivery
                await holder.rollback()  # the delivery's INSERT goes on, and commits
                stored = "SELECT 1 FROM flowyard_runs WHERE idempotency_key = $1"
                assert await until(lambda: conn.fetchval(stored, key)), "never stored"
        finally:
            await conn.close()
            await watcher.close()
        return resp

    _assert_not_answered(asyncio.run(scenario()))
    eid = _ran_once(served, key)
    again = _deliver(served, key)  # the sender's retry: that run, which has run
    assert again.status_code == 202, again.text
    assert again.json() == {**again.json(), "duplicate": True, "execution_id": eid}


def test_while_the_database_hangs_every_delivery_and_the_health_check_are_answered(
    database_url: str, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four server threads, and 30 s to store a run: deliveries held every thread that
    long, and /api/health queued behind them got no answer. The first ones waiting
    have the database probed: unanswered, it is known to hang, and every delivery
    and health check is answered at once until it answers again."""
    monkeypatch.setattr("engine.runtime.HEARTBEAT_S", 0.2)
    monkeypatch.setenv("FLOWYARD_THREADS", "4")
    keys = [f"k{n}-{uuid.uuid4().hex[:8]}" for n in range(1, 13)]
    with _serving(database_url, tmp_path, accept_timeout=30) as served:
        _open_connections(served.bridge)  # a probe's query is sent, and hangs
        with frozen(workspace), ThreadPoolExecutor(len(keys)) as senders:
            sent = [senders.submit(_deliver, served, key, n, 15) for n, key in enumerate(keys, 1)]
            health = httpx.get(served.health, timeout=15)
            answers = [future.result() for future in sent]
        assert health.status_code == 503, health.text
        # (plus `queue_worker` for a serve that runs one: docs/api.md)
        assert health.json().items() >= {"status": "degraded", "database": "unavailable"}.items()
        for resp in answers:
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"] == "database unavailable"
            assert int(resp.headers["Retry-After"]) > 0

        async def healthy() -> bool:
            async with httpx.AsyncClient() as client:
                return (await client.get(served.health, timeout=15)).status_code == 200

        assert asyncio.run(until(healthy)), "never healthy again"
        for n, key in enumerate(keys, 1):  # the senders' retries: each event applied once
            again = _deliver(served, key, n)
            assert again.status_code == 202, again.text

        async def all_succeeded() -> bool:
            runs = [await _runs_of(served.direct, key) for key in keys]
            return all(len(r) == 1 and r[0]["status"] == "succeeded" for r in runs)

        assert asyncio.run(until(all_succeeded))
        assert sorted(map(int, served.log.read_text().split())) == list(range(13))
