"""Condition blocks and a loop's `while` record their resolved inputs: each reference
their expressions read, with its value (secrets redacted), as a Function does — also
when the expression fails. SPEC, Execution semantics: every block records "resolved
inputs (secrets redacted)". They recorded none (`inputs: null`), so a failed
`<start.n> > 5` did not show the value that failed it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from engine.runtime import Runtime

Run = Callable[..., Awaitable[dict[str, Any]]]

ROUTES = """
name: routes
blocks:
  start: {type: manual}
  route: {type: condition, if: "<start.n> > 5 and <env.ROUTE_TOKEN> != ''"}
  pick:
    type: condition
    cases:
      - {name: big, if: "<start.n> > 100"}
      - {name: mid, if: "<start.n> > <start.m>"}
      - {name: small, if: "<start.m> > 0"}
  constant: {type: condition, if: "True"}
edges: [start -> route, start -> pick, start -> constant]
"""


async def _stored(runtime: Runtime, result: dict[str, Any]) -> dict[str, Any]:
    return (await runtime.run_result(result["execution_id"]))["blocks"]


@pytest.fixture(autouse=True)
def route_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTE_TOKEN", "tok-route-9d1c")


async def test_a_condition_records_what_its_expressions_read(
    run_yaml: Run, runtime: Runtime
) -> None:
    result = await run_yaml(ROUTES, {"n": 50, "m": 3})
    assert result["status"] == "succeeded", result["error"]
    blocks = await _stored(runtime, result)
    assert blocks["route"]["inputs"] == {"<start.n>": 50, "<env.ROUTE_TOKEN>": "***"}
    # The cases evaluated, up to the one taken (`small` was not).
    assert blocks["pick"]["port"] == "mid"
    assert blocks["pick"]["inputs"] == {"<start.n>": 50, "<start.m>": 3}
    assert blocks["constant"]["inputs"] is None  # it reads nothing


async def test_a_failed_condition_shows_the_value_that_failed_it(
    run_yaml: Run, runtime: Runtime
) -> None:
    result = await run_yaml(ROUTES, {"n": "7", "m": 3})
    assert result["status"] == "failed"
    blocks = await _stored(runtime, result)
    for bid in ("route", "pick"):
        assert blocks[bid]["status"] == "failed"
        assert "'>' not supported" in blocks[bid]["error"]["message"]
    assert blocks["route"]["inputs"] == {"<start.n>": "7", "<env.ROUTE_TOKEN>": "***"}
    assert blocks["pick"]["inputs"] == {"<start.n>": "7"}


async def test_a_while_loop_records_what_its_last_check_read(
    run_yaml: Run, runtime: Runtime
) -> None:
    wf = """
    name: counting
    blocks:
      start: {type: manual}
      count_up:
        type: loop
        while: "<state.k> < <start.limit> and <env.ROUTE_TOKEN>"
        accumulate: {initial: {k: 0}, next: "<inc.state>"}
        body: [inc]
      inc: {type: function, isolation: inline, code: "return {'state': {'k': <state.k> + 1}}"}
    edges: [start -> count_up]
    """
    result = await run_yaml(wf, {"limit": 3})
    assert result["status"] == "succeeded", result["error"]
    inputs = (await _stored(runtime, result))["count_up"]["inputs"]
    assert inputs == {"<state.k>": 3, "<start.limit>": 3, "<env.ROUTE_TOKEN>": "***"}

    failed = await run_yaml(wf, {"limit": "3"})
    assert failed["status"] == "failed"
    record = (await _stored(runtime, failed))["count_up"]
    assert "'<' not supported" in record["error"]["message"]
    assert record["inputs"] == {"<state.k>": 0, "<start.limit>": "3", "<env.ROUTE_TOKEN>": "***"}
