"""Listing runs reads what a list shows (status, times, error), not every listed
run's input and output: 30 runs with outputs of megabytes made `GET /api/runs` (which
/runs polls every 3 s) and `flowyard runs` read hundreds of megabytes each time.

The runtime reaches PostgreSQL through a relay (tests/relay.py) that counts the bytes
the server sends: what a list costs on the wire, whatever the machine's speed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.model import load_file
from engine.runtime import Runtime

BIG = """
name: big_runs_listed
blocks:
  start: {type: manual}
  big:
    type: function
    isolation: inline
    code: "return {'text': 'x' * 500_000}"
edges: [start -> big]
"""

RUNS = 4


async def test_listing_runs_does_not_read_their_inputs_and_outputs(
    relayed_runtime: tuple[Runtime, Any], tmp_path: Path
) -> None:
    rt, relay = relayed_runtime
    wf_file = tmp_path / "big.yaml"
    wf_file.write_text(BIG)
    workflow = load_file(wf_file)
    for _ in range(RUNS):  # each: an input and an output of about 500 kB
        result = await rt.execute(workflow, {"blob": "y" * 500_000})
        assert result["status"] == "succeeded", result["error"]
    read_before = relay.bytes_from_upstream
    runs = await rt.list_runs(limit=50)
    read = relay.bytes_from_upstream - read_before
    assert len(runs) == RUNS and {r["status"] for r in runs} == {"succeeded"}
    assert set(runs[0]) == {
        "execution_id",
        "workflow",
        "status",
        "trigger",
        "created_at",
        "started_at",
        "finished_at",
        "error",
    }
    # The inputs and outputs alone are 4 MB; a page of 4 summaries is a few kB.
    assert read < 50_000, f"listing {RUNS} runs read {read:,} bytes"
