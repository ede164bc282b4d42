"""Queue throughput with 1 and 2 `flowyard worker` processes (scale-out, issue 7).

    python bench/worker_scaling.py [--runs 1000] [--concurrency 16]

A temporary workspace with its own embedded PostgreSQL; the Order Processing
template; N order events accepted into the queue up front (run + job in one
statement, as `serve --no-worker` does); then 1, and then 2, worker processes
drain it. Prints completed runs/s for each, and the same events executed
in-process (no queue) as the baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine._loop import run as run_loop  # noqa: E402
from engine.database import embedded_url, stop_embedded  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from templates import apply_schemas, instantiate  # noqa: E402

KINDS = ["order_created", "order_shipped", "order_delivered", "note_added"]


def payloads(n: int, tag: str) -> list[dict]:
    out = []
    for i in range(n):
        order = f"{tag}-{i // len(KINDS):05d}"
        body = {"event_type": KINDS[i % len(KINDS)], "order_id": order, "user_id": "u1", "n": i}
        webhook = {
            "body": body,
            "headers": {},
            "query": {},
            "method": "POST",
            "path": "orders/events",
        }
        out.append({"webhook": {**webhook, "received_at": time.time()}, "workflow": {}})
    return out


async def accept_all(rt: Runtime, n: int, tag: str) -> list[str]:
    wf = rt.load_workflow("order_processing")
    ids = []
    for p in payloads(n, tag):
        sub = await rt.submit(
            wf, p, trigger="webhook", concurrency_key=p["webhook"]["body"]["order_id"]
        )
        ids.append(sub.execution_id)
    return ids


async def wait_done(rt: Runtime, ids: list[str], timeout: float = 600) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        done = await rt.db.log_pool.fetchval(
            "SELECT count(*) FROM flowyard_runs WHERE execution_id = ANY($1::uuid[]) AND status IN ('succeeded', 'failed')",
            ids,
        )
        if done == len(ids):
            return time.perf_counter() - t0
        await asyncio.sleep(0.05)
    raise TimeoutError("the queue did not drain in time")


async def run_workers(workspace: Path, url: str, workers: int, n: int, concurrency: int) -> float:
    server = Runtime(workspace / "workflows", url, workspace, resume=False, queue=True, local=False)
    await server.start()
    try:
        ids = await accept_all(server, n, f"w{workers}-{uuid.uuid4().hex[:6]}")
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "FLOWYARD_WORKFLOWS": str(workspace / "workflows"),
            "PYTHONPATH": str(ROOT),  # this checkout, whatever is installed
        }
        cmd = [sys.executable, "-m", "ui.cli", "worker", "--concurrency", str(concurrency)]
        procs = [
            subprocess.Popen(
                cmd, cwd=workspace, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for _ in range(workers)
        ]
        try:
            elapsed = await wait_done(server, ids)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=30)
        return n / elapsed
    finally:
        await server.close()


async def run_in_process(workspace: Path, url: str, n: int, concurrency: int) -> float:
    rt = Runtime(workspace / "workflows", url, workspace, resume=False)
    await rt.start()
    try:
        wf = rt.load_workflow("order_processing")
        todo = payloads(n, f"local-{uuid.uuid4().hex[:6]}")
        t0 = time.perf_counter()

        async def client() -> None:
            while todo:
                p = todo.pop()
                sub = await rt.submit(wf, p, trigger="webhook")
                await rt.wait(sub.execution_id)

        await asyncio.gather(*(client() for _ in range(concurrency)))
        return n / (time.perf_counter() - t0)
    finally:
        await rt.close()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    workspace = Path(tempfile.mkdtemp(prefix="flowyard-scale-"))
    try:
        url = embedded_url(workspace)
        instantiate("order_processing", workspace / "workflows")
        import asyncpg

        conn = await asyncpg.connect(url)
        await apply_schemas(conn)
        await conn.close()
        baseline = await run_in_process(workspace, url, args.runs, args.concurrency)
        one = await run_workers(workspace, url, 1, args.runs, args.concurrency)
        two = await run_workers(workspace, url, 2, args.runs, args.concurrency)
        print(
            f"machine: {os.cpu_count()} cores; {args.runs} Order Processing runs, concurrency {args.concurrency}"
        )
        print(f"in-process (no queue)  {baseline:8.0f} runs/s   (baseline)")
        print(f"queue, 1 worker        {one:8.0f} runs/s   {one / baseline:5.2f}x baseline")
        print(
            f"queue, 2 workers       {two:8.0f} runs/s   {two / baseline:5.2f}x baseline   {two / one:4.2f}x one worker"
        )
    finally:
        stop_embedded(workspace)
        shutil.rmtree(workspace, ignore_errors=True)


if __name__ == "__main__":
    run_loop(main())
