"""CPU per Order Processing run, the engine's and PostgreSQL's, against the bare SQL.

    python bench/run_cost.py [--orders 300] [--concurrency 32] [--repeat 3]

Where bench/webhook_throughput.py measures the whole path (wrk, waitress, the
engine, PostgreSQL on 2 shared cores), this one takes the HTTP intake away to show
what one run itself costs: ``Runtime.submit`` + ``wait`` in this process,
``--concurrency`` order lifecycles at once (the wrk script's event mix), payment
capture and customer notification against the stand-in endpoint. It reports runs/s
and CPU seconds per run of this process (the engine) and of PostgreSQL's process
tree. The baseline, measured in the same run on the same database: ceiling (a) of
the throughput bench, the run's own SQL in a bare asyncpg loop at the same
concurrency (client and PostgreSQL CPU per event). Medians of ``--repeat`` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench._wh_ceiling import sql_ceiling  # noqa: E402
from bench._wh_load import event_body, flow_of  # noqa: E402
from bench._wh_report import tree_cpu  # noqa: E402
from bench.webhook_throughput import HELPERS, free_port  # noqa: E402
from engine._loop import run as run_loop  # noqa: E402
from engine.database import start_embedded  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from templates import apply_schemas, instantiate  # noqa: E402


def _cpu(pg_pid: int) -> tuple[float, float]:
    return sum(os.times()[:2]), tree_cpu(pg_pid)


async def _lifecycles(rt: Runtime, orders: int, concurrency: int, prefix: str) -> int:
    workflow = rt.load_workflow("order_processing")
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> int:
        async with gate:
            order = f"{prefix}-{n}"
            for event_type in flow_of(n):
                key = str(uuid.uuid4())
                webhook = {
                    "body": event_body(event_type, order, n),
                    "headers": {"idempotency_key": key},
                    "query": {},
                    "method": "POST",
                    "path": "orders/events",
                    "received_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                }
                sub = await rt.submit(
                    workflow, {"webhook": webhook}, trigger="webhook",
                    idempotency_key=key, concurrency_key=order,
                )  # fmt: skip
                result = await rt.wait(sub.execution_id)
                assert result["status"] == "succeeded", result["error"]
            return len(flow_of(n))

    return sum(await asyncio.gather(*(one(n) for n in range(orders))))


async def _round(rt: Runtime, url: str, pg_pid: int, args: argparse.Namespace, i: int) -> dict:
    cpu0, t0 = _cpu(pg_pid), time.perf_counter()
    runs = await _lifecycles(rt, args.orders, args.concurrency, f"cost{i}-{uuid.uuid4().hex[:6]}")
    wall, cpu1 = time.perf_counter() - t0, _cpu(pg_pid)
    seconds = max(1.0, wall)
    base0, b0 = _cpu(pg_pid), time.perf_counter()
    rate = await sql_ceiling(url, args.concurrency, seconds, f"ceil{i}-{uuid.uuid4().hex[:6]}")
    events, base1 = rate * (time.perf_counter() - b0), _cpu(pg_pid)
    return {
        "runs_s": runs / wall,
        "engine_ms": (cpu1[0] - cpu0[0]) / runs * 1000,
        "pg_ms": (cpu1[1] - cpu0[1]) / runs * 1000,
        "base_s": rate,
        "client_ms": (base1[0] - base0[0]) / events * 1000,
        "base_pg_ms": (base1[1] - base0[1]) / events * 1000,
    }


async def main_async(args: argparse.Namespace, tmp: Path) -> None:
    server = start_embedded(tmp / "pgdata", cleanup_mode="delete")
    url = server.get_uri()
    pg_pid = int((tmp / "pgdata" / "postmaster.pid").read_text().split()[0])
    conn = await asyncpg.connect(url)
    try:
        await apply_schemas(conn)
    finally:
        await conn.close()
    port = free_port()
    stub = subprocess.Popen([sys.executable, str(HELPERS), "stub", str(port)])
    os.environ |= {
        "STRIPE_API_BASE": f"http://127.0.0.1:{port}",
        "STRIPE_SECRET_KEY": "sk_test_bench",
        "CUSTOMER_WEBHOOK_URL": f"http://127.0.0.1:{port}/customer",
    }
    instantiate("order_processing", tmp / "workflows")
    rt = Runtime(tmp / "workflows", database_url=url, workspace=tmp, resume=False)
    await rt.start()
    try:
        await _lifecycles(rt, 20, args.concurrency, "warm")  # connections, caches, imports
        rounds = [await _round(rt, url, pg_pid, args, i) for i in range(args.repeat)]
    finally:
        await rt.close()
        stub.terminate()
        server.cleanup()
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    ours = med["engine_ms"] + med["pg_ms"]
    base = med["client_ms"] + med["base_pg_ms"]
    print(f"run cost: Order Processing in process, {args.concurrency} lifecycles at once, "
          f"median of {args.repeat} rounds of {args.orders} orders")  # fmt: skip
    print(f"  flowyard     {med['runs_s']:7,.0f} runs/s    CPU per run:   engine "
          f"{med['engine_ms']:.2f} ms + PostgreSQL {med['pg_ms']:.2f} ms = {ours:.2f} ms")  # fmt: skip
    print(f"  ceiling (a)  {med['base_s']:7,.0f} events/s  CPU per event: client "
          f"{med['client_ms']:.2f} ms + PostgreSQL {med['base_pg_ms']:.2f} ms = {base:.2f} ms")  # fmt: skip
    print(f"  ratio        runs/s {med['runs_s'] / med['base_s']:.2f}x; CPU per run "
          f"{ours / base:.1f}x the bare SQL's (engine {med['engine_ms'] / med['client_ms']:.1f}x, "
          f"PostgreSQL {med['pg_ms'] / med['base_pg_ms']:.1f}x)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowyard-cost-") as tmp:
        run_loop(main_async(args, Path(tmp)))


if __name__ == "__main__":
    main()
