"""A run is not re-run while a re-run of it (or of a run it re-ran) is unfinished.

Re-running a run that is still going is refused (a second run beside it would repeat
its effects), but nothing stopped two re-runs of one failed run: a client resending
its POST /rerun after a timeout, or two people pressing "Re-run" on the same failed
run, had two runs repeat the failed block and what follows it at once — a Database
INSERT or a Slack post that no key makes idempotent, applied twice."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from held_runs import until

from engine.rerun_guard import RerunUnderWay
from engine.runtime import Runtime

WORKFLOW = """
name: rerun_once_at_a_time
blocks:
  start: {{type: manual}}
  check:
    type: function
    timeout: 60
    code: |
      import os, time
      if not os.path.exists({gate!r}):
          raise RuntimeError("gate closed")
      with open({log!r}, "a") as f:
          f.write("check\\n")
      while not os.path.exists({hold!r}):
          time.sleep(0.05)
      return {{"ok": True}}
edges: [start -> check]
"""


async def test_a_second_rerun_beside_an_unfinished_one_is_refused(
    runtime: Runtime, write_workflow, tmp_path: Path
) -> None:
    gate, hold, log = tmp_path / "gate", tmp_path / "hold", tmp_path / "log"
    wf = write_workflow(WORKFLOW.format(gate=str(gate), hold=str(hold), log=str(log)))
    first = await runtime.execute(wf, {})
    assert first["status"] == "failed"
    eid = first["execution_id"]
    gate.write_text("open")
    # Two at once: one is accepted, the other refused, whichever comes first.
    both = await asyncio.gather(
        runtime.rerun(eid), runtime.rerun(eid, from_failed=False), return_exceptions=True
    )
    accepted = [b for b in both if not isinstance(b, BaseException)]
    refused = [b for b in both if isinstance(b, RerunUnderWay)]
    assert len(accepted) == 1 and len(refused) == 1, both
    rerun = accepted[0].execution_id
    assert await until(lambda: log.exists())
    assert rerun in str(refused[0])
    # Nor is the re-run itself re-run, nor the first run again, while it runs.
    for again in (eid, rerun):
        with pytest.raises(RerunUnderWay):
            await runtime.rerun(again)
    hold.write_text("open")
    assert (await runtime.wait(rerun))["status"] == "succeeded"
    assert log.read_text() == "check\n"  # the failed block ran again once
    # Once it has ended, the run may be re-run again: asking for it is the decision.
    later = await runtime.wait((await runtime.rerun(eid, from_failed=False)).execution_id)
    assert later["status"] == "succeeded"
