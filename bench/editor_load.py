"""How long the editor takes to load a 300-block workflow in Chromium.

Starts the real server (engine + embedded PostgreSQL in a temporary workspace, or
DATABASE_URL) under waitress, writes a 300-block workflow (function chains, a few
conditions and loops with bodies, every block laid out), logs in, and opens
/editor/<name> a few times. Prints the median of:

- ``ready``: navigation start until the editor has drawn every block (the page
  sets ``data-ready`` after the graph is built), as Playwright sees it;
- ``in_page``: the editor's own measure from its first fetch to the drawn graph.

Usage: python bench/editor_load.py [--blocks 300] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def big_workflow(n: int) -> dict[str, Any]:
    """n blocks: a manual trigger, then rows of 10 chained functions; every 5th row
    ends in a condition, every 7th holds a loop with a 3-block body."""
    blocks: dict[str, Any] = {"start": {"type": "manual"}}
    edges: list[str] = []
    layout: dict[str, list[int]] = {"start": [40, 40]}
    prev = "start"
    i = 0
    row = 0
    while len(blocks) < n:
        row += 1
        y = 40 + row * 120
        for col in range(10):
            if len(blocks) >= n:
                break
            i += 1
            bid = f"f{i}"
            x = 40 + col * 220
            if row % 7 == 0 and col == 5 and len(blocks) + 4 <= n:
                body = [f"{bid}_b{k}" for k in range(3)]
                blocks[bid] = {"type": "loop", "items": [1, 2, 3], "body": body}
                layout[bid] = [x, y - 20, 620, 110]
                for k, b in enumerate(body):
                    blocks[b] = {"type": "function", "code": f"return {{'v': <item> + {k}}}"}
                    layout[b] = [x + 20 + k * 200, y + 20]
                    if k:
                        edges.append(f"{body[k - 1]} -> {b}")
                edges.append(f"{prev} -> {bid}")
                prev = bid
                continue
            if row % 5 == 0 and col == 9:
                blocks[bid] = {"type": "condition", "if": f"<{prev}?> != None"}
            else:
                blocks[bid] = {"type": "function", "code": f"return {{'n': {i}}}"}
            layout[bid] = [x, y]
            edges.append(
                f"{prev}.true -> {bid}"
                if blocks[prev]["type"] == "condition"
                else f"{prev} -> {bid}"
            )
            prev = bid
    return {"version": 1, "name": "big", "blocks": blocks, "edges": edges, "layout": layout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a temporary folder")
    opts = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit("needs Debian's chromium at /usr/bin/chromium")

    from playwright.sync_api import sync_playwright
    from waitress import create_server

    from engine.yaml_writer import dump_yaml
    from ui.server import build

    temporary = opts.workspace is None
    workspace = opts.workspace or Path(tempfile.mkdtemp(prefix="flowyard-bench-"))
    workflows = workspace / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    doc = big_workflow(opts.blocks)
    (workflows / "big.yaml").write_text(dump_yaml(doc))
    os.environ.setdefault("FLOWYARD_TOKEN", "bench-token")
    app, bridge, token = build(workflows, workspace)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server: Any = create_server(app, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    ready_ms: list[float] = []
    in_page_ms: list[float] = []
    timings: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(base_url=base, viewport={"width": 1600, "height": 1000})
            page.goto("/login")
            page.fill("#token", token)
            page.click("#login-submit")
            page.wait_for_url(f"{base}/")
            for _ in range(opts.runs + 1):  # the first load warms the caches; not counted
                t0 = time.perf_counter()
                page.goto("/editor/big")
                page.wait_for_selector("#editor[data-ready='true']", timeout=60_000)
                elapsed = (time.perf_counter() - t0) * 1000
                count = page.locator("g.x6-node").count()
                in_page = float(page.get_attribute("#editor", "data-load-ms") or "nan")
                ready_ms.append(elapsed)
                timings.append(page.get_attribute("#editor", "data-timings") or "")
                in_page_ms.append(in_page)
            browser.close()
    finally:
        server.close()
        bridge.stop()
        if temporary and not os.environ.get("DATABASE_URL"):
            from engine.database import stop_embedded

            stop_embedded(workspace)  # its own PostgreSQL: stop it, then drop the folder
            shutil.rmtree(workspace, ignore_errors=True)
    ready_ms, in_page_ms = ready_ms[1:], in_page_ms[1:]
    print(
        f"editor load, {len(doc['blocks'])} blocks ({count} drawn), {len(doc['edges'])} edges, {opts.runs} runs:"
    )
    print(
        f"  ready   median {statistics.median(ready_ms):7.1f} ms  (min {min(ready_ms):.1f}, max {max(ready_ms):.1f})"
    )
    print(f"  in_page median {statistics.median(in_page_ms):7.1f} ms")
    print(f"  phases of the last load (ms): {timings[-1]}")


if __name__ == "__main__":
    main()
