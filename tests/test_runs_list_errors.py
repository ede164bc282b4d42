"""A runs list holds each failed run's error with its message cut at
LISTED_MESSAGE_CHARS: a Function that raised with megabytes in its message made
each of its runs megabytes of every list the runs page polls; the run itself keeps
the whole message (real embedded PostgreSQL)."""

from __future__ import annotations

import json

from engine.runstore import LISTED_MESSAGE_CHARS
from engine.runtime import Runtime

RAISES = """
name: raises_long
blocks:
  start: {type: manual}
  boom:
    type: function
    isolation: inline
    code: |
      raise ValueError("e" * input.start.n)
edges: [start -> boom]
"""


async def test_a_long_error_message_is_cut_in_the_list_and_whole_in_the_run(
    run_yaml, runtime: Runtime
) -> None:
    long = await run_yaml(RAISES, {"n": 1_000_000})
    assert long["status"] == "failed"
    listed = await runtime.list_runs(workflow="raises_long", limit=1)
    assert listed[0]["execution_id"] == long["execution_id"]
    error = listed[0]["error"]
    assert len(json.dumps(listed)) < LISTED_MESSAGE_CHARS + 1000
    assert error["type"] == "ValueError" and error["block"] == "boom"
    whole = (await runtime.run_result(long["execution_id"]))["error"]["message"]
    assert whole.startswith("e" * 1_000_000)
    said = f" … ({len(whole)} characters: the run has the whole message)"
    assert error["message"] == "e" * LISTED_MESSAGE_CHARS + said


async def test_a_short_error_is_listed_as_the_run_has_it(run_yaml, runtime: Runtime) -> None:
    short = await run_yaml(RAISES, {"n": 10})
    listed = await runtime.list_runs(workflow="raises_long", limit=1)
    assert listed[0]["execution_id"] == short["execution_id"]
    assert listed[0]["error"] == (await runtime.run_result(short["execution_id"]))["error"]
