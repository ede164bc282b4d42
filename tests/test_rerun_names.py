"""A re-run of a delivery whose stored workflow version would name the re-run is
refused, unless the caller asks for the workflow as it is now.

Black-box report: a run of Order Processing accepted before `<workflow.rerun_of>`
existed (or before its file was edited to read it), for a delivery without any id,
was re-run: the re-run executed the stored version, derived the event id from its
own execution id, appended the event again and captured it again. Editing the file
could not help: a re-run executes the version stored with the run it repeats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.model import Workflow
from engine.rerun_names import RerunNamesItself
from engine.runtime import Runtime

#: A delivery's identity derived from its run, as Order Processing derives an event
#: id for a delivery that carried none; ``fail`` in the body fails the block.
DERIVES = """
name: {name}
blocks:
  hook: {{type: webhook, path: rerun-names/{name}}}
  ident:
    type: function
    code: |
      if <hook.body.fail?>:
          raise ValueError("asked to fail")
      return {{"id": {expr}}}
edges: [hook -> ident]
output: <ident.id>
"""
BEFORE = "<workflow.execution_id>"  # a version from before <workflow.rerun_of>
AFTER = "<workflow.rerun_of> or <workflow.execution_id>"


@pytest.fixture
def version(write_workflow: Callable[..., Workflow]) -> Callable[[str], Workflow]:
    """The workflow ``rerun_names`` with ``ident`` deriving its id by ``expr``, saved
    to one file (a second call edits it)."""
    return lambda expr: write_workflow(DERIVES.format(name="rerun_names", expr=expr), "rerun_names")


async def delivered(runtime: Runtime, workflow: Workflow, body: dict[str, Any]) -> dict[str, Any]:
    """A run started as a webhook delivery starts one (blocks/webhook.py)."""
    payload = {"body": body, "headers": {}, "query": {}, "method": "POST"}
    sub = await runtime.submit(
        workflow, {"webhook": payload}, trigger="webhook", trigger_block="hook"
    )
    return await runtime.wait(sub.execution_id, timeout=60)


async def reruns_of(runtime: Runtime, execution_id: str) -> int:
    return await runtime.db.pool.fetchval(
        "SELECT count(*) FROM flowyard_runs WHERE rerun_of = $1::uuid", execution_id
    )


async def test_a_delivery_whose_version_names_the_rerun_is_not_rerun(
    runtime: Runtime, version: Callable[[str], Workflow]
) -> None:
    first = await delivered(runtime, version(BEFORE), {"n": 1})
    assert first["output"] == first["execution_id"]
    with pytest.raises(RerunNamesItself) as refused:
        await runtime.rerun(first["execution_id"], from_failed=False)
    assert refused.value.blocks == ["ident"]
    assert "reads no <workflow.rerun_of>" in str(refused.value)
    assert '{"current_version": true}' in str(refused.value)
    # From the failed block of a run that failed at the block naming it: refused too.
    failed = await delivered(runtime, version(BEFORE), {"fail": True})
    assert failed["status"] == "failed"
    with pytest.raises(RerunNamesItself):
        await runtime.rerun(failed["execution_id"])
    assert await reruns_of(runtime, first["execution_id"]) == 0
    assert await reruns_of(runtime, failed["execution_id"]) == 0

    # From the failed block with `ident` carried over: it names what it named.
    again = await runtime.wait((await runtime.rerun(first["execution_id"])).execution_id)
    assert again["status"] == "succeeded" and again["output"] == first["execution_id"]

    # The file edited to name the run it repeats, and asked for: the first run's id.
    now = version(AFTER)
    edited = await runtime.rerun(first["execution_id"], from_failed=False, workflow=now)
    assert (await runtime.wait(edited.execution_id))["output"] == first["execution_id"]


async def test_a_version_that_reads_rerun_of_or_a_run_by_hand_is_rerun(
    runtime: Runtime, version: Callable[[str], Workflow]
) -> None:
    current = await delivered(runtime, version(AFTER), {"n": 2})
    again = await runtime.rerun(current["execution_id"], from_failed=False)
    assert (await runtime.wait(again.execution_id))["output"] == current["execution_id"]
    # By hand: run again, and named as its own run, as <workflow.execution_id> says.
    by_hand = await runtime.execute(version(BEFORE), {"n": 3})
    repeat = await runtime.wait(
        (await runtime.rerun(by_hand["execution_id"], from_failed=False)).execution_id
    )
    assert repeat["status"] == "succeeded" and repeat["output"] == repeat["execution_id"]


async def test_the_current_version_asked_for_is_run_whatever_it_reads(
    runtime: Runtime, version: Callable[[str], Workflow]
) -> None:
    """The way out for a workflow that reads its run's id only for its own use."""
    old = version(BEFORE)
    first = await delivered(runtime, old, {"n": 4})
    again = await runtime.rerun(first["execution_id"], from_failed=False, workflow=old)
    assert (await runtime.wait(again.execution_id))["output"] == again.execution_id


async def test_a_rerun_whose_first_run_is_unknown_counts_as_a_delivery(
    runtime: Runtime, version: Callable[[str], Workflow]
) -> None:
    """A re-run made before runs kept `rerun_of` does not say what it repeats."""
    by_hand = await runtime.execute(version(BEFORE), {"n": 5})
    rerun = await runtime.rerun(by_hand["execution_id"], from_failed=False)
    await runtime.wait(rerun.execution_id)
    await runtime.db.pool.execute(
        "UPDATE flowyard_runs SET rerun_of = NULL WHERE execution_id = $1::uuid",
        rerun.execution_id,
    )
    with pytest.raises(RerunNamesItself):
        await runtime.rerun(str(rerun.execution_id), from_failed=False)


#: The whole <workflow> kept by one block, and a later block that fails.
WHOLE = """
name: rerun_whole
blocks:
  hook: {type: webhook, path: rerun-names/rerun_whole}
  whole: {type: function, code: 'return {"w": <workflow>}'}
  fails: {type: function, code: 'raise ValueError("asked to fail")'}
edges: [hook -> whole, whole -> fails]
"""


async def test_a_block_reading_the_whole_workflow_reads_its_execution_id(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    """A reference to the whole <workflow> without a path was not counted: the
    re-run of every block was accepted, and `whole` kept the re-run's id."""
    workflow = write_workflow(WHOLE, "rerun_whole")
    failed = await delivered(runtime, workflow, {})
    assert failed["status"] == "failed"
    assert failed["blocks"]["whole"]["output"]["w"]["execution_id"] == failed["execution_id"]
    with pytest.raises(RerunNamesItself) as refused:
        await runtime.rerun(failed["execution_id"], from_failed=False)
    assert refused.value.blocks == ["whole"]
    assert await reruns_of(runtime, failed["execution_id"]) == 0
    # From the failed block, `whole` is carried over with what it kept: not refused.
    again = await runtime.rerun(failed["execution_id"])
    await runtime.wait(again.execution_id)
    stored = await runtime.run_result(again.execution_id)
    assert stored["blocks"]["whole"]["reused_from"] == failed["execution_id"]
