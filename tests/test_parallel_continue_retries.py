"""A parallel with `retries` and `on_error: continue` retries its body before it
collects what still fails in `errors` (docs/engine.md, "Timeouts and retries"), as
any block with both does: the retries were silently not made."""

from __future__ import annotations

from pathlib import Path

FLAKY = """
name: flaky_items
blocks:
  start: {{type: manual}}
  fan:
    type: parallel
    items: [1, 2, 3]
    body: [call]
    retries: {retries}
    retry_backoff: 0
    on_error: continue
  call:
    type: function
    isolation: inline
    code: |
      # Item 2 fails at its first try only (a peer that answers the second time).
      import os
      mark = os.path.join({folder!r}, str(<workflow.execution_id>) + "-" + str(<item>))
      tried = os.path.exists(mark)
      open(mark, "a").close()
      if <item> == 2 and not tried:
          raise ValueError("not yet")
      return {{"x": <item>}}
edges: [start -> fan]
"""


async def test_a_parallel_with_on_error_continue_retries_before_it_collects_errors(
    run_yaml, tmp_path: Path
) -> None:
    result = await run_yaml(FLAKY.format(retries=1, folder=str(tmp_path)))
    fan = result["blocks"]["fan"]
    assert fan["status"] == "succeeded"
    assert fan["output"] == {"results": [{"x": 1}, {"x": 2}, {"x": 3}], "errors": []}
    assert fan["attempts"] == 2


async def test_what_still_fails_after_the_retries_is_collected(run_yaml, tmp_path: Path) -> None:
    wf = FLAKY.format(retries=1, folder=str(tmp_path)).replace("and not tried", "")
    fan = (await run_yaml(wf))["blocks"]["fan"]
    assert fan["status"] == "succeeded"
    assert fan["attempts"] == 2
    assert fan["output"]["results"] == [{"x": 1}, None, {"x": 3}]
    [error] = fan["output"]["errors"]
    assert (error["index"], error["type"], error["block"]) == (1, "ValueError", "fan[1].call")


async def test_without_retries_the_errors_are_collected_at_once(run_yaml, tmp_path: Path) -> None:
    fan = (await run_yaml(FLAKY.format(retries=0, folder=str(tmp_path))))["blocks"]["fan"]
    assert fan["attempts"] == 1
    assert [e["index"] for e in fan["output"]["errors"]] == [1]
