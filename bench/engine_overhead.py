"""Engine overhead per block, next to a bare Python loop doing the same work.

    python bench/engine_overhead.py [--repeat 5]

Measures, on the embedded PostgreSQL (or DATABASE_URL), with the run log on:
- a 1000-block chain of trivial blocks (Condition `if: "True"`: the engine's own
  work — activation, reference resolution, expression evaluation, recording);
- a 10k-item Loop whose body is one trivial block;
- peak RSS of a 100k-item Loop (run in a child process so the figure is its own).
The baseline evaluates the same compiled expression in a bare Python loop.
Prints medians and the ratio; no machine-specific thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import blocks  # noqa: E402,F401
from engine._loop import run as run_loop  # noqa: E402
from engine.expressions import Expression  # noqa: E402
from engine.model import load_text  # noqa: E402
from engine.runtime import Runtime  # noqa: E402


def chain_yaml(n: int) -> str:
    lines = ["name: chain", "blocks:", "  b0: {type: manual}"]
    lines += [f'  b{i}: {{type: condition, if: "True"}}' for i in range(1, n)]
    lines.append("edges:")
    lines += [f"  - b{i - 1}{'.true' if i > 1 else ''} -> b{i}" for i in range(1, n)]
    return "\n".join(lines) + "\n"


def loop_yaml(n: int) -> str:
    return f"""
name: bigloop
blocks:
  start: {{type: manual}}
  each:
    type: loop
    count: {n}
    max_iterations: {n}
    body: [step]
    accumulate: {{initial: 0, next: <step.value>}}
  step: {{type: condition, if: "<state> >= 0"}}
edges: [start -> each]
output: <each.iterations>
"""


def bare_loop_us(n: int) -> float:
    """The same work without the engine: evaluate the compiled expression n times."""
    expr = Expression("True")

    class Scope:
        def lookup(self, root):  # noqa: ANN001, ANN201
            raise KeyError(root)

        def note_secret(self, value):  # noqa: ANN001, ANN201
            pass

    scope = Scope()
    t0 = time.perf_counter()
    for _ in range(n):
        expr.evaluate(scope)
    return (time.perf_counter() - t0) / n * 1e6


async def measure(repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        rt = Runtime(Path(tmp), workspace=ROOT, resume=False)
        await rt.start()
        try:
            chain = load_text(chain_yaml(1000), "chain.yaml")
            loop = load_text(loop_yaml(10_000), "loop.yaml")
            await rt.execute(chain, {})  # warm up
            chain_us, loop_us = [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                r = await rt.execute(chain, {})
                chain_us.append((time.perf_counter() - t0) / 1000 * 1e6)
                assert r["status"] == "succeeded", r["error"]
                t0 = time.perf_counter()
                r = await rt.execute(loop, {})
                loop_us.append((time.perf_counter() - t0) / 10_000 * 1e6)
                assert r["output"] == 10_000, r
        finally:
            await rt.close()
    bare = statistics.median(bare_loop_us(100_000) for _ in range(repeat))
    return {
        "chain_us": statistics.median(chain_us),
        "loop_us": statistics.median(loop_us),
        "bare_us": bare,
    }


def rss_child(n: int) -> None:
    async def go() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            rt = Runtime(Path(tmp), workspace=ROOT, resume=False, function_workers=1)
            await rt.start()
            r = await rt.execute(load_text(loop_yaml(n), "loop.yaml"), {})
            await rt.close()
            assert r["output"] == n, r

    run_loop(go())
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rss-child", type=int)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return
    res = asyncio.run(measure(args.repeat))
    out = subprocess.run(
        [sys.executable, __file__, "--rss-child", "100000"],
        capture_output=True,
        text=True,
        check=True,
    )
    rss = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    print(f"1000-block chain     {res['chain_us']:8.1f} µs/block   (median of {args.repeat})")
    print(f"10k-item loop        {res['loop_us']:8.1f} µs/iteration")
    print(f"bare Python loop     {res['bare_us']:8.1f} µs/evaluation (same expression, no engine)")
    print(
        f"engine / bare        {res['chain_us'] / res['bare_us']:8.1f}x (chain)   {res['loop_us'] / res['bare_us']:.1f}x (loop)"
    )
    print(f"100k-item loop       {rss:8.1f} MB peak RSS")


if __name__ == "__main__":
    main()
