"""What a resumed run keeps: never the work of a transaction that did not commit."""

from __future__ import annotations

from engine.recovery import restorable

WORKFLOW = """
name: tx
blocks:
  start: {type: manual}
  pre:
    type: function
    code: "return 1"
  lock: {type: database, transaction: t, query: "SELECT 1 AS x"}
  compute:
    type: function
    code: "return 2"
  save: {type: database, transaction: t, query: "SELECT 2 AS y"}
  after:
    type: function
    code: "return 3"
edges: [start -> pre, pre -> lock, lock -> compute, compute -> save, save -> after]
"""


def ev(type_: str, block: str | None, **data) -> dict:
    return {"type": type_, "block": block, "data": data}


def test_uncommitted_group_members_and_their_descendants_run_again(write_workflow) -> None:
    plan = write_workflow(WORKFLOW).plan
    events = [ev("block_succeeded", b, output={}) for b in ("start", "pre", "lock", "compute")]
    assert sorted(restorable(plan, events)) == ["pre", "start"]


def test_committed_group_is_kept(write_workflow) -> None:
    plan = write_workflow(WORKFLOW).plan
    events = [
        ev("block_succeeded", b, output={}) for b in ("start", "pre", "lock", "compute", "save")
    ]
    events.append(ev("transaction_committed", None, group="t"))
    assert sorted(restorable(plan, events)) == ["compute", "lock", "pre", "save", "start"]
