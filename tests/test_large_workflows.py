"""A workflow of thousands of blocks costs in proportion to its blocks: which blocks
are upstream of which is asked name by name, not made as a set per block (n² names
for a chain of n), at validation and when its Functions run (real embedded
PostgreSQL)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import networkx as nx
import pytest

import blocks  # noqa: F401 - registers the block types plans are built from
from engine.graph import TOP, Region, is_upstream, upstream_of
from engine.model import Edge, load_file
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent


def chain(n: int) -> str:
    """start -> f0 -> f1 -> … : each inline Function reads the one before it."""
    lines = ["name: long_chain", "blocks:", "  start: {type: manual}"]
    lines.append("  f0: {type: function, isolation: inline, code: 'return {\"v\": 0}'}")
    for i in range(1, n):
        code = f'return {{\\"v\\": <f{i - 1}.v> + 1}}'
        lines.append(f'  f{i}: {{type: function, isolation: inline, code: "{code}"}}')
    lines.append("edges:")
    lines.append("  - start -> f0")
    lines += [f"  - f{i - 1} -> f{i}" for i in range(1, n)]
    lines.append(f"output: <f{n - 1}.v>")
    return "\n".join(lines) + "\n"


async def test_a_chain_of_functions_runs_without_a_set_of_upstream_blocks_each(
    run_yaml, runtime: Runtime
) -> None:
    text = chain(1500)
    tracemalloc.start()
    try:
        result = await run_yaml(text, {})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == 1499
    # Each Function kept the set of the blocks before it: ~1.1 million names, ~64 MB (10 MB without).
    assert peak < 30_000_000, peak


@pytest.mark.parametrize(
    "path",
    [
        "examples/example.yaml",
        "templates/order_processing/workflow.yaml",
        "templates/replay_events/workflow.yaml",
        "templates/order_processing_agent/workflow.yaml",
    ],
)
def test_is_upstream_says_what_upstream_of_holds(path: str) -> None:
    plan = load_file(ROOT / path).plan
    names = list(plan.workflow.blocks)
    for bid in names:
        upstream = upstream_of(plan, bid)
        for name in [*names, "input", "env", "nothing"]:
            assert is_upstream(plan, name, bid) == (name in upstream), (name, bid)


def test_a_region_s_ancestors_with_cycles_are_networkx_s() -> None:
    pairs = ["s>a", "a>b", "b>c", "c>a", "c>d", "d>e", "e>d", "s>f", "f>e", "g>g", "h>s"]
    edges = [Edge(x, None, y) for x, y in (p.split(">") for p in pairs)]
    nodes = sorted({e.source for e in edges} | {e.target for e in edges} | {"alone"})
    outgoing: dict[str, list[Edge]] = {}
    for e in edges:
        outgoing.setdefault(e.source, []).append(e)
    region = Region(TOP, nodes=nodes, outgoing=outgoing)
    for bid in nodes:
        ancestors = nx.ancestors(region.graph(), bid)
        for name in [*nodes, "elsewhere"]:
            assert region.is_ancestor(name, bid) == (name in ancestors), (name, bid)
