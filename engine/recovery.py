"""What a resumed run may keep from the run it continues.

A ``block_succeeded`` event is proof that a block finished — unless the block
wrote inside a transaction group that never committed: its writes were rolled
back with the dead connection. Such blocks, and every block downstream of them
(their outputs may have been computed from the rolled-back reads), run again.
Keeping them would lose the event the transaction was appending.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from engine.graph import Plan


def _top_level(path: str) -> str:
    """`fold[3].add` → `fold`; `lock` → `lock`."""
    return path.split("[", 1)[0].split(".", 1)[0]


def restorable(plan: Plan, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Completed block records (path → output, port, …) a resumed run can reuse."""
    done = {
        ev["block"]: {"status": "succeeded", **(ev["data"] or {})}
        for ev in events
        if ev["type"] == "block_succeeded"
    }
    committed = {ev["data"]["group"] for ev in events if ev["type"] == "transaction_committed"}
    invalid: set[str] = set()
    for name, (members, nested) in plan.transaction_groups.items():
        if name in committed:
            continue
        invalid |= members
        if nested:  # members inside bodies: the containers holding them run again
            for block in plan.workflow.blocks.values():
                if block.type == "database" and block.config.get("transaction") == name:
                    invalid.add(_root_container(plan, block.id))
    top = plan.top.graph()
    for node in list(invalid):
        if node in top:
            invalid |= nx.descendants(top, node)
    return {path: rec for path, rec in done.items() if _top_level(path) not in invalid}


def _root_container(plan: Plan, block_id: str) -> str:
    cur = block_id
    while plan.workflow.blocks[cur].parent is not None:
        cur = plan.workflow.blocks[cur].parent
    return cur
