"""A loop or parallel whose collected `results` grow past the most a run record keeps
of an output fails, saying so (and, for a loop, naming `collect: false`), instead of
holding every iteration's output until the server runs out of memory — the record
could not have kept them anyway. A fold with `collect: false` is unaffected. The
limit is lowered here so the tests stay small; the rule is the same at 64 MiB."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import engine._recordable
from engine.model import Workflow
from engine.runtime import Runtime

CAP = 50_000

LOOP = """
name: big_results
blocks:
  start: {type: manual}
  each:
    type: loop
    count: 200
    body: [make]
  make: {type: function, isolation: inline, code: "return {'text': 'x' * 1000}"}
  after: {type: function, isolation: inline, code: "return {'n': len(input.each.results)}"}
edges: [start -> each, each -> after]
"""


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine._recordable, "MAX_RECORDED_CHARS", CAP)


@pytest.mark.parametrize("secret", [False, True])
async def test_a_loop_whose_results_pass_the_cap_fails_naming_collect_false(
    runtime: Runtime,
    write_workflow: Callable[..., Workflow],
    small_cap: None,
    secret: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = LOOP
    if secret:  # the run log encodes each field apart to redact it: measured here
        monkeypatch.setenv("RESULTS_SIZE_KEY", "s3cr3t-value")
        text = LOOP.replace("'x' * 1000}", "'x' * 1000, 'k': len(<env.RESULTS_SIZE_KEY>)}")
    result = await runtime.execute(write_workflow(text), {})
    assert result["status"] == "failed"
    error = result["blocks"]["each"]["error"]
    assert error["block"] == "each" and error["type"] == "ResultsTooLarge"
    assert error["message"].startswith(f"the loop's results are over the {CAP:,} characters")
    assert "collect: false" in error["message"]
    # It stopped there: ~50 iterations of ~1 KB, not all 200.
    stored = await runtime.run_result(result["execution_id"])
    assert "each[60].make" not in stored["blocks"]["each"].get("iterations", {})
    assert result["blocks"]["after"]["status"] in ("pending", "skipped")
    events = await runtime.db.pool.fetch(
        "SELECT block FROM flowyard_run_events WHERE execution_id = $1"
        " AND type = 'block_succeeded' AND block LIKE 'each[%'",
        result["execution_id"],
    )
    assert 40 < len(events) < 60


async def test_a_fold_that_does_not_collect_is_unaffected(
    runtime: Runtime, write_workflow: Callable[..., Workflow], small_cap: None
) -> None:
    text = LOOP.replace(
        "    body: [make]\n",
        "    body: [make]\n    collect: false\n    accumulate: {initial: 0, next: <make.n>}\n",
    ).replace("return {'text': 'x' * 1000}", "return {'text': 'x' * 1000, 'n': <state> + 1}")
    text = text.replace("len(input.each.results)", "input.each.state")
    result = await runtime.execute(write_workflow(text), {})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"n": 200}


async def test_results_under_the_cap_are_kept(
    runtime: Runtime, write_workflow: Callable[..., Workflow], small_cap: None
) -> None:
    result = await runtime.execute(write_workflow(LOOP.replace("count: 200", "count: 40")), {})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"n": 40}


@pytest.mark.parametrize("on_error", ["fail", "continue"])
async def test_a_parallel_whose_results_pass_the_cap_fails(
    runtime: Runtime, write_workflow: Callable[..., Workflow], small_cap: None, on_error: str
) -> None:
    text = f"""
name: big_parallel_{on_error}
blocks:
  start: {{type: manual}}
  each:
    type: parallel
    items: <start.items>
    max_concurrency: 4
    on_error: {on_error}
    body: [make]
  make: {{type: function, isolation: inline, code: "return {{'text': 'x' * 1000}}"}}
edges: [start -> each]
"""
    result = await runtime.execute(write_workflow(text), {"items": list(range(200))})
    # Not one of the failures `on_error: continue` collects in `errors`: the parallel
    # fails (and `on_error: continue` then hands its error on, as for any block).
    assert result["status"] == ("failed" if on_error == "fail" else "succeeded")
    error = result["blocks"]["each"]["error"]
    assert error["block"] == "each" and error["type"] == "ResultsTooLarge"
    assert f"over the {CAP:,} characters" in error["message"]


async def test_a_parallel_of_branches_counts_each_branch(
    runtime: Runtime, write_workflow: Callable[..., Workflow], small_cap: None
) -> None:
    big = "{type: function, isolation: inline, code: \"return {'text': 'x' * 20000}\"}"
    text = f"""
name: big_branches
blocks:
  start: {{type: manual}}
  each:
    type: parallel
    branches: {{a: [a1], b: [b1], c: [c1]}}
  a1: {big}
  b1: {big}
  c1: {big}
edges: [start -> each]
"""
    result = await runtime.execute(write_workflow(text), {})
    assert result["status"] == "failed"
    error = result["blocks"]["each"]["error"]
    assert error["type"] == "ResultsTooLarge" and "3 branches" in error["message"]
