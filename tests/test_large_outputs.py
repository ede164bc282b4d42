"""A block output (or a run output) too big for PostgreSQL's jsonb is not recorded —
a note says so — instead of failing every write of the run's log and leaving the
run `running`, resumed and run again on every start. The limit is lowered here so
the test stays small; the rule is the same at the real 64 MiB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import engine._recordable
from engine.model import Workflow
from engine.runtime import Runtime

BIG = """
name: big_output
blocks:
  start: {type: manual}
  big: {type: function, isolation: inline, code: "return {'text': 'x' * 5000}"}
  fail: {type: function, isolation: inline, code: "raise ValueError('after big')"}
edges: [start -> big, big -> fail]
"""


async def test_an_output_too_big_to_record_is_noted_and_not_reused(
    runtime: Runtime, write_workflow: Callable[..., Workflow], monkeypatch: Any
) -> None:
    monkeypatch.setattr(engine._recordable, "MAX_RECORDED_CHARS", 2000)
    result = await runtime.execute(write_workflow(BIG), {})
    assert result["status"] == "failed" and result["error"]["block"] == "fail"
    assert len(result["blocks"]["big"]["output"]["text"]) == 5000  # the run had the value
    stored = await runtime.run_result(result["execution_id"])
    big = stored["blocks"]["big"]
    assert big["status"] == "succeeded"
    assert "not recorded: 5,0" in big["output"]["omitted"]
    # A re-run from the failed block runs `big` again: there is no value to reuse.
    # (Read from its record: the re-run may have ended before `wait` is called, and the
    # record, unlike the run's own result, notes the output instead of holding it.)
    again = await runtime.wait((await runtime.rerun(result["execution_id"])).execution_id, 30)
    rerun = await runtime.run_result(again["execution_id"])
    assert rerun["blocks"]["big"]["status"] == "succeeded"
    assert rerun["blocks"]["big"]["reused_from"] is None and rerun["blocks"]["start"]["reused_from"]
    assert "not recorded: 5,0" in rerun["blocks"]["big"]["output"]["omitted"]


async def test_a_run_output_too_big_to_record_ends_the_run_all_the_same(
    runtime: Runtime, write_workflow: Callable[..., Workflow], monkeypatch: Any
) -> None:
    monkeypatch.setattr(engine._recordable, "MAX_RECORDED_CHARS", 2000)
    wf = write_workflow(
        BIG.replace("big -> fail", "start -> fail")
        .replace(
            "  fail: {type: function, isolation: inline, code: \"raise ValueError('after big')\"}\n",
            "",
        )
        .replace("edges: [start -> big, start -> fail]", "edges: [start -> big]")
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded"
    stored = await runtime.run_result(result["execution_id"])
    assert stored["status"] == "succeeded" and "not recorded" in stored["output"]["omitted"]
