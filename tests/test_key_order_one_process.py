"""Runs with one concurrency_key are ordered in the memory of the process that
executes them: two full `serve`s on one database each kept an order of their own,
silently. A second one now says so at start, loudly, naming the first; and a
process that does not order keys leaves a dead process's keyed runs to the one
that does (or until they are silent), rather than run them beside its next ones."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from db_helpers import new_database
from held_runs import until
from processes import free_port, start, stop, until_healthy

from engine.deployments import lock_key
from engine.key_order import KEY_ORDER_LOCK, hold_key_order
from engine.recovery import claim
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
CLASH = "are NOT kept in order with each other"


@pytest_asyncio.fixture(loop_scope="session")
async def own_database(database_url: str) -> AsyncIterator[str]:
    yield await new_database(database_url, "keyorder")


@pytest_asyncio.fixture(loop_scope="session")
async def two_runtimes(own_database: str, tmp_path: Path) -> AsyncIterator[list[Runtime]]:
    runtimes = [
        Runtime(tmp_path, own_database, tmp_path, function_workers=1, resume=False)
        for _ in range(2)
    ]
    runtimes[1].owner = "second-host:2:2"
    for rt in runtimes:
        await rt.start()
    yield runtimes
    for rt in runtimes:
        await rt.close()


async def test_a_second_process_ordering_keys_is_told_and_takes_over_when_the_first_stops(
    two_runtimes: list[Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "flowyard.key_order")
    first, second = two_runtimes
    holding = asyncio.create_task(hold_key_order(first, "flowyard serve", True, 0.2))
    assert await until(lambda: first.orders_keys)
    late = asyncio.create_task(hold_key_order(second, "flowyard serve", True, 0.2))
    try:
        assert await until(lambda: CLASH in caplog.text), "the second serve said nothing"
        [said] = [r for r in caplog.records if CLASH in r.getMessage()]
        assert said.levelno == logging.ERROR
        assert f"flowyard serve {first.owner}" in said.getMessage()  # names the other
        assert not second.orders_keys
        holding.cancel()  # the first one stops
        assert await until(lambda: second.orders_keys)
        assert "now keeps the order of runs by concurrency_key alone" in caplog.text
    finally:
        for task in (holding, late):
            task.cancel()
        await asyncio.gather(holding, late, return_exceptions=True)


async def test_queueing_servers_share_the_database_with_each_other_not_with_a_full_serve(
    two_runtimes: list[Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = two_runtimes
    tasks = [
        asyncio.create_task(hold_key_order(rt, "flowyard serve --no-worker", False, 0.2))
        for rt in (first, second)
    ]
    full = None
    try:

        async def both_hold() -> bool:
            held = await first.db.log_pool.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                " WHERE locktype = 'advisory' AND classid::bigint = $1 AND objid::bigint = $2"
                " AND granted AND d.datname = current_database()",
                *lock_key(KEY_ORDER_LOCK, first.deployment),
            )
            return held == 2

        assert await until(both_hold)
        full = asyncio.create_task(hold_key_order(first, "flowyard serve", True, 0.2))
        assert await until(lambda: CLASH in caplog.text)
        messages = [r.getMessage() for r in caplog.records if CLASH in r.getMessage()]
        assert len(messages) == 1 and messages[0].startswith("flowyard serve (")
    finally:
        for task in (*tasks, full):
            if task is not None:
                task.cancel()
        await asyncio.gather(*tasks, *([full] if full else []), return_exceptions=True)


async def test_a_dead_processs_keyed_run_is_left_to_the_process_ordering_keys(
    two_runtimes: list[Runtime],
) -> None:
    """Until it is silent: a worker that took it at once would run it beside the
    key's next run, accepted by a serve restarted meanwhile."""
    pool = two_runtimes[0].db.log_pool
    dead = f"{socket.gethostname()}:999999999:1"  # a process of this host that is gone
    rows = await pool.fetch(
        "INSERT INTO flowyard_runs (execution_id, workflow, status, owner, heartbeat_at,"
        " concurrency_key) SELECT gen_random_uuid(), 'keyed', 'running', $1, now(), k"
        " FROM unnest(ARRAY['w:order-1', NULL]) AS k RETURNING execution_id, concurrency_key",
        dead,
    )
    keyed = next(str(r["execution_id"]) for r in rows if r["concurrency_key"])
    plain = next(str(r["execution_id"]) for r in rows if not r["concurrency_key"])

    taken = await claim(pool, "worker-host:3:3", deployment="flowyard", keyed=False)
    assert [str(r["execution_id"]) for r in taken] == [plain]
    taken = await claim(pool, "serve-host:4:4", deployment="flowyard", keyed=True)
    assert [str(r["execution_id"]) for r in taken] == [keyed]


async def test_a_second_full_serve_on_one_database_says_so_at_start(
    own_database: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": own_database,
        "FLOWYARD_TOKEN": "t",
        "FLOWYARD_QUEUE": f"keyorder-{tmp_path.name}",
        "PYTHONPATH": str(ROOT),
    }
    (tmp_path / "workflows").mkdir()
    ports = [free_port(), free_port()]
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    servers = []
    try:
        for port, log in zip(ports, logs, strict=True):
            servers.append(start(["serve", "--port", str(port)], env, tmp_path, log))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await until_healthy(client)
        assert await until(lambda: CLASH in logs[1].read_text(), attempts=600)
    finally:
        stop(servers)
    assert CLASH not in logs[0].read_text()
    assert "ERROR flowyard.key_order" in logs[1].read_text()
