"""Several flowyard processes on one PostgreSQL: workers, schedules, crash takeover."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from processes import free_port, start, stop, until_healthy

from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def scaleout_env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    yield {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLOWYARD_QUEUE": f"scaleout-{tmp_path.name}",
        "FLOWYARD_WORKER_HEARTBEAT": "1",
        "FLOWYARD_WORKER_STALLED_AFTER": "3",
        "PYTHONPATH": str(ROOT),
    }


async def test_two_workers_one_tick_one_run(
    scaleout_env: dict[str, str], tmp_path: Path, runtime: Runtime
) -> None:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    name = f"tick_{tmp_path.name}".replace("-", "_")
    (workflows / "tick.yaml").write_text(
        f"name: {name}\nblocks:\n  clock: {{type: schedule, cron: '* * * * *', timezone: UTC}}\n"
    )
    env = {**scaleout_env, "FLOWYARD_WORKFLOWS": str(workflows)}
    workers = [
        start(["worker", "--concurrency", "4"], env, tmp_path, tmp_path / f"w{i}.log")
        for i in range(2)
    ]
    try:
        deadline = time.monotonic() + 60
        rows = []
        while time.monotonic() < deadline:
            rows = await runtime.db.log_pool.fetch(
                "SELECT idempotency_key, status FROM flowyard_runs WHERE workflow = $1", name
            )
            if rows and all(r["status"] == "succeeded" for r in rows):
                break
            time.sleep(0.2)
        time.sleep(3)  # both workers have scanned the schedule by now
        rows = await runtime.db.log_pool.fetch(
            "SELECT idempotency_key FROM flowyard_runs WHERE workflow = $1", name
        )
    finally:
        stop(workers)
    keys = [r["idempotency_key"] for r in rows]
    assert keys, "no scheduled run was started: " + (tmp_path / "w0.log").read_text()[-2000:]
    assert len(keys) == len(set(keys))  # each tick exactly once across both workers
    assert all(k.startswith(f"schedule:{name}:") for k in keys)


async def test_server_and_two_workers_survive_a_worker_killed_mid_stream(
    scaleout_env: dict[str, str], tmp_path: Path, database_url: str, httpserver
) -> None:
    """500 order events over 50 orders through `serve --no-worker` and two workers;
    one worker is SIGKILLed halfway. Every delivery ends in a succeeded run, each
    event is stored once, each order's events are applied in arrival order, and
    every order's replay equals its snapshot."""
    import asyncio
    import json
    import signal
    import uuid

    import asyncpg
    import httpx

    from engine.database import init_connection
    from templates import apply_schemas, instantiate
    from templates.event_store import replay

    httpserver.expect_request("/v1/charges/ch_scale/capture", method="POST").respond_with_json(
        {"captured": True}
    )
    # A database of its own: the template tables and counts belong to this test alone.
    name = f"scale_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base, _, query = database_url.partition("?")
    url = f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    await apply_schemas(conn)
    workflows = tmp_path / "workflows"
    instantiate("order_processing", workflows)
    port = free_port()
    env = {
        **scaleout_env,
        "DATABASE_URL": url,
        "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "scale-token",
        "STRIPE_API_BASE": httpserver.url_for("/").rstrip("/"),
        "STRIPE_SECRET_KEY": "sk_test_scale",
    }
    server = start(
        ["serve", "--port", str(port), "--no-worker"], env, tmp_path, tmp_path / "serve.log"
    )
    workers = [
        start(["worker", "--concurrency", "8"], env, tmp_path, tmp_path / f"worker{i}.log")
        for i in range(2)
    ]
    procs = [server, *workers]
    orders = [f"scale-{tmp_path.name[-6:]}-{i:02d}" for i in range(50)]
    kinds = ["order_created", "payment_received", "order_shipped", "order_delivered"] + [
        "note_added"
    ] * 6
    accepted: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)

            async def post_stream(order: str) -> None:
                for n, kind in enumerate(
                    kinds
                ):  # one order's events in sequence: its arrival order
                    body = {
                        "event_type": kind,
                        "order_id": order,
                        "user_id": "u1",
                        "n": n,
                        "charge_id": "ch_scale",
                    }
                    resp = await client.post("/webhooks/orders/events", json=body)
                    assert resp.status_code == 202, resp.text
                    accepted.append(resp.json()["execution_id"])
                    if len(accepted) == 250:
                        workers[0].send_signal(
                            signal.SIGKILL
                        )  # halfway: one worker dies mid-stream
                        workers[0].wait()

            await asyncio.gather(*(post_stream(o) for o in orders))
        assert len(accepted) == 500

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            done = await conn.fetchval(
                "SELECT count(*) FROM flowyard_runs WHERE execution_id = ANY($1::uuid[]) AND status = 'succeeded'",
                accepted,
            )
            if done == 500:
                break
            await asyncio.sleep(0.5)
        statuses = await conn.fetch(
            "SELECT status, count(*) AS n FROM flowyard_runs WHERE execution_id = ANY($1::uuid[]) GROUP BY status",
            accepted,
        )
        assert {r["status"]: r["n"] for r in statuses} == {"succeeded": 500}, (
            tmp_path / "worker1.log"
        ).read_text()[-3000:]
        assert await conn.fetchval("SELECT count(*) FROM events") == 500
        for order in orders:
            rows = await conn.fetch(
                "SELECT aggregate_version, data FROM events WHERE aggregate_id = $1 ORDER BY aggregate_version",
                order,
            )
            data = [
                json.loads(r["data"]) if isinstance(r["data"], str) else r["data"] for r in rows
            ]
            assert [r["aggregate_version"] for r in rows] == list(range(1, 11)), (
                order
            )  # consecutive versions
            assert [d["n"] for d in data] == list(range(10)), order  # applied in arrival order
            snapshot = await conn.fetchrow(
                "SELECT version, state FROM order_snapshots WHERE order_id = $1", order
            )
            rebuilt = await replay(conn, order, from_start=True)
            assert snapshot["version"] == rebuilt["version"] == 10
            assert snapshot["state"] == rebuilt["state"], order
    finally:
        stop(procs)
        await conn.close()


KEYED = """
name: {name}
blocks:
  hook:
    type: webhook
    path: {path}
    respond: {respond}
    concurrency_key: <hook.body.key>
  note:
    type: function
    isolation: inline
    code: |
      import time
      time.sleep(0.02 if <hook.body.n> % 2 else 0.0)  # uneven work: order must be kept
      with open({log!r}, "a") as f:
          f.write(f"{{<hook.body.key>}}:{{<hook.body.n>}}\\n")
      return {{"n": <hook.body.n>}}
edges: [hook -> note]
"""


async def test_serve_engine_process_keeps_key_order_answers_sync_and_survives_a_kill(
    scaleout_env: dict[str, str], tmp_path: Path, database_url: str
) -> None:
    """`serve --engine-process`: the web process accepts, the engine process runs,
    per-key order is kept across the hand-off, a sync webhook gets its run's output,
    and an engine process killed with SIGKILL is replaced and its runs resumed."""
    import asyncio
    import signal

    import httpx
    import psutil

    log = tmp_path / "log"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    tag = tmp_path.name[-8:].replace("-", "_")
    for respond in ("async", "sync"):
        (workflows / f"keyed_{respond}.yaml").write_text(
            KEYED.format(
                name=f"keyed_{respond}_{tag}",
                path=f"keyed-{tag}/{respond}",
                respond=respond,
                log=str(log),
            )  # fmt: skip
        )
    port = free_port()
    env = {**scaleout_env, "FLOWYARD_WORKFLOWS": str(workflows), "FLOWYARD_TOKEN": "t"}
    server = start(
        ["serve", "--port", str(port), "--engine-process"], env, tmp_path, tmp_path / "serve.log"
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)

            async def stream(key: str, numbers: range) -> list[str]:
                ids = []
                for n in numbers:
                    resp = await client.post(
                        f"/webhooks/keyed-{tag}/async", json={"key": key, "n": n}
                    )
                    assert resp.status_code == 202, resp.text
                    ids.append(resp.json()["execution_id"])
                return ids

            ids = sum(await asyncio.gather(*(stream(k, range(10)) for k in "ab")), [])
            sync = await client.post(f"/webhooks/keyed-{tag}/sync", json={"key": "c", "n": 1})
            assert sync.status_code == 200, sync.text
            assert sync.json() == {"n": 1}  # the run's output, from the engine process

            def engine_processes() -> list[psutil.Process]:
                return [c for c in psutil.Process(server.pid).children() if "engine" in c.cmdline()]

            [engine] = engine_processes()
            engine.send_signal(signal.SIGKILL)
            ids += await stream("a", range(10, 15))  # accepted while the engine restarts
        rt = Runtime(workflows, database_url, tmp_path, resume=False)
        await rt.start()
        try:
            results = [await rt.wait(eid, timeout=60) for eid in ids]
        finally:
            await rt.close()
        assert {r["status"] for r in results} == {"succeeded"}
        per_key: dict[str, list[int]] = {}
        for line in log.read_text().split():
            key, n = line.split(":")
            seen = per_key.setdefault(key, [])
            # A run cut off by the kill after its Function wrote runs again (at least
            # once, like any effect a Function has): a repeat, never a reordering.
            if not seen or seen[-1] != int(n):
                seen.append(int(n))
        assert per_key["a"] == list(range(15)) and per_key["b"] == list(range(10))
        assert [c.pid for c in engine_processes()] not in ([], [engine.pid])  # replaced
    finally:
        stop([server])
