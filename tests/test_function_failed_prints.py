"""What a Function printed before it raised (threw) is kept: the failed block's
record has it as its output's ``stdout`` (and a block with ``on_error: continue``
goes on with ``{error, stdout}``), redacted like any output. It was dropped: the
debug prints an author added to find a failure vanished with the failure they were
added for (n8n and Windmill show a failed execution's console output).

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import os

import pytest

from engine.runtime import Runtime

WORKFLOW = """
name: failed_prints_{isolation}_{on_error}
blocks:
  start: {{type: manual}}
  f:
    type: function
    isolation: {isolation}
    on_error: {on_error}
    code: |
      print("order", <start.id>, "key", <env.FN1_FAILED_SECRET>)
      raise ValueError("no price")
  after:
    type: function
    isolation: inline
    code: |
      return {{"seen": <f>}}
edges: [start -> f, f -> after]
"""

PRINTED = "order 7 key ***\n"


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_a_failed_function_keeps_what_it_printed(
    runtime: Runtime, run_yaml, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "FN1_FAILED_SECRET", "hunter2-failed-secret")
    result = await run_yaml(WORKFLOW.format(isolation=isolation, on_error="fail"), {"id": 7})
    assert result["status"] == "failed"
    assert result["error"]["message"] == "no price (line 2)"
    assert result["blocks"]["f"]["output"] == {"stdout": PRINTED}
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["f"]["output"] == {"stdout": PRINTED}
    assert stored["blocks"]["f"]["error"]["message"] == "no price (line 2)"


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_a_handled_failure_goes_on_with_what_it_printed(
    runtime: Runtime, run_yaml, isolation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "FN1_FAILED_SECRET", "hunter2-failed-secret")
    result = await run_yaml(WORKFLOW.format(isolation=isolation, on_error="continue"), {"id": 7})
    assert result["status"] == "succeeded", result["error"]
    seen = result["output"]["seen"]
    assert seen["stdout"] == PRINTED
    assert seen["error"]["message"] == "no price (line 2)"
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["f"]["output"] == seen


JAVASCRIPT = """
name: failed_prints_js_{on_error}
blocks:
  start: {{type: manual}}
  f:
    type: function
    language: javascript
    on_error: {on_error}
    code: |
      console.log("order", <start.id>);
      console.log("key", <env.FN1_FAILED_SECRET>);
      throw new Error("no price");
edges: [start -> f]
"""


@pytest.mark.parametrize("on_error", ["fail", "continue"])
async def test_a_failed_javascript_function_keeps_what_it_printed(
    runtime: Runtime, run_yaml, on_error: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(os.environ, "FN1_FAILED_SECRET", "hunter2-failed-secret")
    result = await run_yaml(JAVASCRIPT.format(on_error=on_error), {"id": 7})
    stored = await runtime.run_result(result["execution_id"])
    output = stored["blocks"]["f"]["output"]
    assert output["stdout"] == "order 7\nkey ***"
    assert stored["blocks"]["f"]["error"]["message"] == "Error: no price (line 3)"
    if on_error == "continue":
        assert output["error"]["message"] == "Error: no price (line 3)"


async def test_javascript_that_broke_the_console_still_fails_with_its_own_error(
    runtime: Runtime, run_yaml
) -> None:
    result = await run_yaml(
        "name: broken_console\nblocks:\n  start: {type: manual}\n  f:\n    type: function\n"
        "    language: javascript\n    code: |\n"
        "      globalThis.__flowyard_stdout = null;\n      throw new Error('mine');\n"
        "edges: [start -> f]\n"
    )
    assert result["error"]["message"] == "Error: mine (line 2)"
    assert result["blocks"]["f"]["output"] is None
