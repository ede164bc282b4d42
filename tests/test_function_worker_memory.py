"""A Function worker lets go of a call's input and output once it has answered: it
kept them (the request, the returned value, its JSON twice) until its next call, so
each worker of the pool held the largest call it had last served — 800 MB for a
400 MB output — for as long as no other call came (real worker processes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.runtime import Runtime

#: Characters in the call's input and in its output: each held three times over
#: (the value, its JSON as text and as bytes) while the call is answered.
SIZE = 40_000_000

WORKFLOW = """
name: worker_memory
blocks:
  start: {type: manual}
  f:
    type: function
    code: "return {'n': len(<start.s>), 'back': 'y' * len(<start.s>)}"
edges: [start -> f]
"""


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


async def test_a_worker_holds_nothing_of_a_call_it_has_answered(
    run_yaml: Any, runtime: Runtime
) -> None:
    result = await run_yaml(WORKFLOW, {"s": "x" * SIZE})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["n"] == SIZE
    pool = runtime.services.functions
    held = {w.process.pid: _rss_bytes(w.process.pid) for w in pool._all}
    # An idle worker is a Python interpreter with a few modules (~30 MB): nowhere
    # near one copy of the call's input or output.
    assert max(held.values()) < SIZE, held
