"""`retry_backoff` doubles per retry up to 100 times itself, then stays there.

It doubled without end: `retries` may be up to 100, and with the default 0.5 s the
20th retry waited 0.5 × 2^19 s (three days), the 30th eight years, so a block given
many retries for a flaky peer left its run `running` for good, holding a worker slot.
Capped as Temporal caps its default retry policy (maximum interval 100 × the initial
one), the first seven retries wait as before.
"""

from __future__ import annotations

from typing import Any

WORKFLOW = """
name: NAME
blocks:
  start: {type: manual}
  flaky:
    type: function
    isolation: inline
    retries: 12
    retry_backoff: 0.01
    code: |
      raise ValueError("the peer is down")
edges: [start -> flaky]
"""


async def test_backoff_doubles_up_to_a_hundred_times_the_first_delay(
    run_yaml: Any, runtime: Any
) -> None:
    result = await run_yaml(WORKFLOW)
    assert result["status"] == "failed"
    assert result["blocks"]["flaky"]["attempts"] == 13
    events = await runtime.run_events(result["execution_id"])
    delays = [e["data"]["delay_s"] for e in events if e["type"] == "block_retrying"]
    doubling = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64]
    assert delays == [*doubling, 1.0, 1.0, 1.0, 1.0, 1.0]
