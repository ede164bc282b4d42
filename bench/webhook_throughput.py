"""End-to-end webhook throughput of the Order Processing template, against two ceilings.

    python bench/webhook_throughput.py [--duration 10] [--connections 1,8,32] [--quick]

Starts, in a temp workspace: its own embedded PostgreSQL, a stand-in payment/customer
endpoint, ``flowyard serve`` with Order Processing (async accept) and a copy of it with
``respond: sync``; drives each with wrk over loopback at each concurrency; then measures
(a) the same SQL in a bare asyncpg loop and (b) a bare Flask endpoint under waitress, and
checks correctness (events == accepted deliveries, every replay == its snapshot).
Prints a markdown table and writes a chart to bench/results/ and docs/performance.png.
Everything it starts is stopped on exit, Ctrl-C included. Needs wrk, psutil, matplotlib.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402

from bench._wh_ceiling import sql_ceiling  # noqa: E402
from bench._wh_load import event_body, run_wrk, write_script  # noqa: E402
from bench._wh_report import CpuMeter, chart, markdown_table, profile_summary  # noqa: E402
from bench._wh_sql import check, drain, scenario_sql  # noqa: E402
from engine._loop import run as run_loop  # noqa: E402
from engine.database import embedded_url, pgdata_dir, stop_embedded  # noqa: E402
from templates import apply_schemas, instantiate  # noqa: E402

ASYNC_PATH, SYNC_PATH = "orders/events", "orders/events-sync"
ASYNC_NAME = "Order Processing with Event Sourcing"
SYNC_NAME = "Order Processing (sync respond)"
HELPERS = Path(__file__).resolve().parent / "_wh_servers.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up in {timeout:.0f}s") from None
            time.sleep(0.2)


def post(url: str, body: dict[str, Any], key: str) -> int:
    req = urllib.request.Request(
        url,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "Idempotency-Key": key},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return int(resp.status)


class Procs:
    """Processes this bench started, each in its own session; stopped by pid on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, cmd: list[str], log: Path, **kw: Any) -> subprocess.Popen[bytes]:
        with log.open("wb") as fh:
            p = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, **kw
            )
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        """SIGINT (flowyard serve shuts down cleanly on it), then SIGTERM, then SIGKILL,
        each to the process group of a process started here, until all have exited."""
        for sig, grace in ((signal.SIGINT, 10.0), (signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            alive = [p for p in self.procs if p.poll() is None]
            for p in alive:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace
            while any(p.poll() is None for p in alive) and time.monotonic() < deadline:
                time.sleep(0.1)
        self.procs.clear()


def write_workflows(wfdir: Path) -> None:
    src = instantiate("order_processing", wfdir)
    text = src.read_text(encoding="utf-8")
    sync = text.replace(f"name: {ASYNC_NAME}", f"name: {SYNC_NAME}", 1).replace(
        f"    path: {ASYNC_PATH}\n", f"    path: {SYNC_PATH}\n    respond: sync\n", 1
    )
    assert "respond: sync" in sync and SYNC_NAME in sync, "the template's webhook block moved"
    (wfdir / "order_processing_sync.yaml").write_text(sync, encoding="utf-8")


async def prepare(url: str, ceiling_url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await apply_schemas(conn)
        await conn.execute('CREATE DATABASE "ceiling"')
    finally:
        await conn.close()
    conn = await asyncpg.connect(ceiling_url)
    try:
        await apply_schemas(conn)
    finally:
        await conn.close()


def machine(load_before: float) -> str:
    """nproc, CPU model, load, and which flowyard was measured (commit, dirty tree)."""
    model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")), "?")  # fmt: skip
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(git + ["status", "--porcelain", "engine", "blocks", "ui", "templates"],
                           capture_output=True, text=True).stdout.split()[1::2]  # fmt: skip
    load = os.getloadavg()
    changed = " + uncommitted changes in " + ", ".join(sorted(dirty)) if dirty else ""
    return (
        f"machine: {os.cpu_count()} cores ({model}), load average {load_before:.2f} before,"
        f" {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} after; flowyard {head.stdout.strip()}{changed}"
    )


def run(args: argparse.Namespace, tmp: Path, procs: Procs) -> int:
    conns = [int(c) for c in args.connections.split(",")]
    load_before = os.getloadavg()[0]
    url = embedded_url(tmp)
    base, _, query = url.partition("?")
    ceiling_url = base.rsplit("/", 1)[0] + "/ceiling" + (f"?{query}" if query else "")
    asyncio.run(prepare(url, ceiling_url))
    pg_pid = int((pgdata_dir(tmp) / "postmaster.pid").read_text().split()[0])
    wfdir = tmp / "workflows"
    write_workflows(wfdir)
    script = write_script(tmp)

    stub_port, fy_port, flask_port = free_port(), free_port(), free_port()
    py = [sys.executable]
    procs.start(py + [str(HELPERS), "stub", str(stub_port)], tmp / "stub.log")
    env = dict(os.environ, DATABASE_URL=url, FLOWYARD_TOKEN=secrets.token_urlsafe(16),
               PYTHONPATH=str(ROOT), STRIPE_API_BASE=f"http://127.0.0.1:{stub_port}",
               STRIPE_SECRET_KEY="sk_test_bench", CUSTOMER_WEBHOOK_URL=f"http://127.0.0.1:{stub_port}/customer")  # fmt: skip
    for var in ("SLACK_WEBHOOK_URL", "ORDER_EMAIL_FROM", "FLOWYARD_MAX_ACTIVE_RUNS"):
        env.pop(var, None)
    if args.max_active_runs:
        env["FLOWYARD_MAX_ACTIVE_RUNS"] = str(args.max_active_runs)
    serve = py + ["-m", "ui.cli", "serve", "--host", "127.0.0.1", "--port", str(fy_port),
                  "--workflows", str(wfdir)]  # fmt: skip
    if args.workers:  # the web process accepts into the queue; worker processes run
        serve.append("--no-worker")
    if args.engine_process:
        serve.append("--engine-process")
    server = procs.start(serve, tmp / "serve.log", cwd=tmp, env=env)
    for i in range(args.workers):
        procs.start(
            py + ["-m", "ui.cli", "worker", "--workflows", str(wfdir)],
            tmp / f"worker{i}.log", cwd=tmp, env=env,
        )  # fmt: skip
    fy = f"http://127.0.0.1:{fy_port}"
    wait_http(fy + "/api/health")

    # Warm-up (function workers, pools, prepared statements): a few lifecycles per mode.
    accepted = 0
    for path in (ASYNC_PATH, SYNC_PATH):
        order = f"warm{path[-4:]}-0-1"
        for n, etype in enumerate(["order_created", "payment_received", "order_shipped"]):
            status = post(f"{fy}/webhooks/{path}", event_body(etype, order, 1), f"{order}-{n}")
            accepted += status < 300
    asyncio.run(drain(url, 60))

    meter = CpuMeter(server.pid, pg_pid)
    rows: list[dict[str, Any]] = []
    in_flight = 0
    modes = {"async": ASYNC_PATH, "sync": SYNC_PATH}
    for mode, path in ((m, modes[m]) for m in args.modes.split(",")):
        for c in conns:
            prefix = f"{mode[0]}{c}"
            meter.start()
            w = run_wrk(script, fy, "/webhooks/" + path, prefix, c, args.duration)
            cpu = meter.stop(w["seconds"])
            drained = asyncio.run(drain(url, max(60.0, 15 * args.duration)))
            sql = asyncio.run(scenario_sql(url, prefix))
            accepted += w["accepted"]
            in_flight += c
            row = {"mode": mode, "connections": c, "cpu": cpu, "drained": drained, **w, **sql}
            row["accepted_per_s"] = w["accepted"] / w["seconds"]
            rows.append(row)
            print(
                f"{mode:5} c={c:<3} accepted {row['accepted_per_s']:8,.0f}/s  completed"
                f" {sql['completed_per_s']:7,.0f}/s  p50/p99 {w['p50'] / 1000:7.1f}/{w['p99'] / 1000:7.1f} ms"
                f"  errors {w['status'] + w['timeout'] + w['read'] + w['connect']}"
                f"  cores: server {cpu['server']:.2f} (main {cpu['server_main']:.2f})"
                f" pg {cpu['pg']:.2f} wrk {cpu['wrk']:.2f} machine {cpu['machine']:.2f}"
                f"{'' if drained else '  (NOT DRAINED)'}",
                flush=True,
            )

    if args.profile:
        c = max(conns)
        raw = ROOT / "bench" / "results" / f"profile-async-c{c}.txt"
        raw.parent.mkdir(parents=True, exist_ok=True)
        spy = subprocess.Popen(
            ["py-spy", "record", "-p", str(server.pid), "--subprocesses", "--nonblocking", "--gil",
             "--rate", "200", "--format", "raw", "-o", str(raw), "--duration", str(round(args.duration))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        w = run_wrk(script, fy, "/webhooks/" + ASYNC_PATH, f"p{c}", c, args.duration)
        spy.wait(timeout=args.duration + 60)
        accepted, in_flight = accepted + w["accepted"], in_flight + c
        asyncio.run(drain(url, max(60.0, 15 * args.duration)))
        print(f"\npy-spy of the server, async c={c} (extra run, not in the table): {raw}")
        print(profile_summary(raw) + "\n", flush=True)

    flask_proc = procs.start(py + [str(HELPERS), "flask", str(flask_port)], tmp / "flask.log")
    flask = f"http://127.0.0.1:{flask_port}"
    wait_http(flask + "/")
    ceil_s = max(2.0, args.duration / 2)
    ceilings: dict[int, dict[str, float]] = {}
    flask_meter = CpuMeter(flask_proc.pid, pg_pid)
    for c in conns:
        meter.start()
        sql_rate = run_loop(sql_ceiling(ceiling_url, c, ceil_s, f"ceil{c}"))
        a_cpu = meter.stop(ceil_s)
        flask_meter.start()
        fw = run_wrk(script, flask, "/webhooks/" + ASYNC_PATH, f"f{c}", c, ceil_s)
        b_cpu = flask_meter.stop(fw["seconds"])
        ceilings[c] = {"sql": sql_rate, "flask": fw["accepted"] / fw["seconds"]}
        print(
            f"ceilings c={c:<3} (a) SQL {sql_rate:7,.0f} tx/s (cores: asyncpg client"
            f" {a_cpu['bench']:.2f}, pg {a_cpu['pg']:.2f}, machine {a_cpu['machine']:.2f})"
            f"   (b) Flask {ceilings[c]['flask']:7,.0f} req/s p99 {fw['p99'] / 1000:.1f} ms"
            f" (cores: flask {b_cpu['server']:.2f}, wrk {b_cpu['wrk']:.2f})",
            flush=True,
        )

    passed, lines = asyncio.run(check(url, accepted, in_flight))
    print("\ncorrectness:\n" + "\n".join(lines))
    print(f"CORRECTNESS: {'PASS' if passed else 'FAIL'}\n")
    for r in rows:
        c = ceilings[r["connections"]]
        print(
            f"{r['mode']:5} c={r['connections']:<3} flowyard ÷ (a) {r['completed_per_s'] / c['sql']:.2f}x"
            f"   flowyard ÷ (b) {r['completed_per_s'] / c['flask']:.2f}x"
        )
    limit = f"; FLOWYARD_MAX_ACTIVE_RUNS={args.max_active_runs}" if args.max_active_runs else ""
    print("\n" + machine(load_before) + limit)
    print("\n" + markdown_table(rows, ceilings))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = ROOT / "bench" / "results"
    (results).mkdir(parents=True, exist_ok=True)
    (results / f"webhook_throughput-{stamp}.json").write_text(
        json.dumps({"rows": rows, "ceilings": ceilings}, indent=1, default=str)
    )
    pngs = [results / f"webhook_throughput-{stamp}.png"]
    if not args.no_docs_chart:
        pngs.append(ROOT / "docs" / "performance.png")
    chart(rows, ceilings, pngs)
    print("chart: " + ", ".join(str(p.relative_to(ROOT)) for p in pngs))
    return 0 if passed else 1


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of load per point")
    ap.add_argument("--connections", default="1,8,32")
    ap.add_argument("--modes", default="async,sync", help="webhook modes to measure")
    ap.add_argument("--quick", action="store_true", help="3-second points (a smoke run)")
    ap.add_argument("--no-docs-chart", action="store_true", help="leave docs/performance.png alone")
    ap.add_argument(
        "--profile", action="store_true", help="py-spy the server in an extra async run"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp workspace (logs)")
    ap.add_argument(
        "--workers",
        type=int,
        default=0,
        help="serve --no-worker plus N `flowyard worker` processes",
    )
    ap.add_argument("--engine-process", action="store_true", help="serve --engine-process")
    ap.add_argument(
        "--max-active-runs", type=int, default=0, help="FLOWYARD_MAX_ACTIVE_RUNS (0: unset)"
    )
    args = ap.parse_args()
    if args.quick:
        args.duration = 3.0
    if shutil.which("wrk") is None:
        print("needs wrk (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM clean up (also when started with SIGINT ignored, e.g. `cmd &`);
    # the children then get default handlers.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupted)
    tmp = Path(tempfile.mkdtemp(prefix="flowyard-wh-bench-"))
    procs = Procs()
    try:
        return run(args, tmp, procs)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping what the bench started", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
        stop_embedded(tmp)
        if args.keep:
            print(f"workspace kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
