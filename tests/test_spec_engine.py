"""SPEC.md, engine part, sentence by sentence: each test names the rule it proves.

Real embedded PostgreSQL (fixtures in tests/conftest.py); no mocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.expressions import Expression, ExpressionError
from engine.model import WorkflowError
from engine.runtime import Runtime


def _problems(write_workflow, text: str) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        write_workflow(text)
    return [str(p) for p in info.value.problems]


# -- References -----------------------------------------------------------------------


async def test_workflow_roots_and_typed_lone_references(run_yaml) -> None:
    """`<workflow.execution_id>`, `<workflow.name>`; a lone reference keeps its type,
    one inside longer text is rendered as text (JSON for dicts/lists)."""
    wf = """
    name: roots
    blocks:
      start: {type: manual}
      pick:
        type: condition
        if: "<start.n> == 2"
    edges: [start -> pick]
    output:
      id: <workflow.execution_id>
      name: <workflow.name>
      n: <start.n>
      obj: <start.obj>
      text: "n=<start.n> obj=<start.obj> list=<start.list>"
      idx: <start.list.1>
    """
    result = await run_yaml(wf, {"n": 2, "obj": {"k": "v"}, "list": [1, 2]})
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["id"] == result["execution_id"] and out["name"] == "roots"
    assert out["n"] == 2 and out["obj"] == {"k": "v"} and out["idx"] == 2
    assert out["text"] == 'n=2 obj={"k":"v"} list=[1,2]'


async def test_a_missing_field_is_a_block_error_naming_the_reference(run_yaml) -> None:
    """ "A reference to a missing field is a block error naming the reference, unless
    written `<a.b?>` (then it is null)." Not retried: another attempt cannot help."""
    wf = """
    name: missing
    blocks:
      start: {type: manual}
      soft: {type: function, code: "return {'v': <start.nope?>}"}
      hard: {type: function, retries: 2, retry_backoff: 0, code: "return <start.nope>"}
    edges: [start -> soft, soft -> hard]
    """
    result = await run_yaml(wf, {"x": 1})
    assert result["blocks"]["soft"]["output"] == {"v": None}
    assert result["status"] == "failed"
    assert result["error"]["block"] == "hard" and "<start.nope>" in result["error"]["message"]
    assert set(result["error"]) == {"type", "message", "block"}
    assert result["blocks"]["hard"]["attempts"] == 1


# -- Loop and parallel bodies ------------------------------------------------------------


def test_loop_variables_outside_a_body_are_refused(write_workflow) -> None:
    """ "Inside a body, the loop variable, `<loop.index>` and `<state>` resolve;
    outside, only the container's output is visible" — said before anything runs."""
    problems = _problems(
        write_workflow,
        """
        name: outside
        blocks:
          start: {type: manual}
          route: {type: condition, if: "<state> == 1"}
          f: {type: function, code: "return <loop.index>"}
        edges: [start -> route, route.true -> f]
        output: <loop.index>
        """,
    )
    assert any("'route'" in p and "'if'" in p and "<state>" in p for p in problems), problems
    assert any("'f'" in p and "<loop.index>" in p for p in problems), problems
    assert any("'output'" in p and "<loop.index>" in p for p in problems), problems


def test_a_block_named_like_a_run_root_is_refused(write_workflow) -> None:
    """`<input.…>`, `<env.NAME>` and `<workflow.…>` are special roots: a block with
    that id would silently take their place."""
    problems = _problems(
        write_workflow,
        """
        name: shadow
        blocks:
          env: {type: manual}
          use: {type: function, code: "return <env.HOME>"}
        edges: [env -> use]
        """,
    )
    assert any("block 'env'" in p and "reserved" in p for p in problems), problems


async def test_function_input_holds_only_upstream_outputs(run_yaml) -> None:
    """ "a run's blocks see only upstream outputs": a sibling that finished earlier is
    not in a Function's `input`, however the timing falls."""
    wf = """
    name: upstream_only
    blocks:
      start: {type: manual}
      quick: {type: function, code: "return {'q': 1}"}
      slow: {type: function, code: "import time; time.sleep(0.3); return 1"}
      late: {type: function, code: "return {'quick': 'quick' in input, 'slow': 'slow' in input}"}
      named: {type: function, code: "return {'quick': input.quick}"}
    edges: [start -> quick, start -> slow, slow -> late, late -> named]
    """
    result = await run_yaml(wf)
    assert result["blocks"]["late"]["output"] == {"quick": False, "slow": True}
    # Read by name, a non-upstream block is not there either (an AttributeError).
    assert result["status"] == "failed" and result["error"]["block"] == "named"


# -- Expressions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ['<a.items>.clear() or True', '<a.d>.pop("k")', '<a.items>.append(1)', 'open("/etc/passwd")',
     "<a.s>.__class__", '(lambda: 1)()'],
)  # fmt: skip
def test_expressions_allow_no_calls_outside_the_allow_list(text: str) -> None:
    """ "evaluated safely (no attribute access to dunders, no calls but an allow-list)":
    refused when the workflow loads, so a mutating method can never alter an upstream
    block's output that later blocks read."""
    with pytest.raises(ExpressionError):
        Expression(text)


def test_expressions_python_style_with_references_bound_as_values() -> None:
    class Scope:
        values = {
            "a": {"items": [1, 2, 3], "s": "Paid", "d": {"k": 1}, "n": 7, "code": '" or 1 or "'}
        }

        def lookup(self, root: str) -> Any:
            return self.values[root]

        def note_secret(self, value: Any) -> None:
            pass

    scope = Scope()
    cases = {
        '<a.s>.lower() == "paid" and not <a.n> != 7': True,
        "2 in <a.items> and len(<a.items>) == 3": True,
        "<a.n> * 2 + 1 < 10 or <a.n> % 2 == 0": False,
        '<a.d>.get("k") == 1 and "k" in <a.d>.keys()': True,
        '<a.code> == "x"': False,  # a value is data, never source
    }
    for text, expected in cases.items():
        assert Expression(text).evaluate(scope) is expected, text
    assert scope.values["a"]["items"] == [1, 2, 3]


# -- Common block keys --------------------------------------------------------------------


async def test_on_error_continue_without_an_error_edge_carries_on(run_yaml) -> None:
    """ "continue: the output is `{error: …}` and the `error` port, if wired, is taken";
    not wired, the plain edges carry on."""
    wf = """
    name: carry_on
    blocks:
      start: {type: manual}
      boom: {type: function, on_error: continue, code: "raise KeyError('gone')"}
      after: {type: function, code: "return {'seen': <boom.error.type>}"}
    edges: [start -> boom, boom -> after]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded" and result["error"] is None
    boom = result["blocks"]["boom"]
    assert boom["status"] == "failed"
    assert boom["output"] == {"error": boom["error"]}
    assert boom["error"]["type"] == "KeyError" and boom["error"]["block"] == "boom"
    assert result["output"] == {"seen": "KeyError"}


async def test_timeout_applies_to_any_block_type(run_yaml) -> None:
    """`timeout` (s) is a common key: a loop whose body takes too long fails in time."""
    wf = """
    name: slow_loop
    blocks:
      start: {type: manual}
      repeat: {type: loop, count: 50, timeout: 0.5, body: [nap]}
      nap: {type: function, code: "import time; time.sleep(0.1); return 1"}
    edges: [start -> repeat]
    """
    result = await run_yaml(wf)  # 50 naps of 0.1 s would succeed without the timeout
    assert result["status"] == "failed"
    assert result["error"]["type"] == "TimeoutError" and result["error"]["block"] == "repeat"


async def test_every_attempt_and_transition_is_an_event(
    run_yaml, runtime: Runtime, tmp_path: Path, monkeypatch
) -> None:
    """Run `queued → running → succeeded`; block `pending → running → succeeded |
    failed | skipped` with attempts — each transition one event in
    flowyard_run_events; the stored block record has attempts, start, end, resolved
    inputs (secrets redacted), output and error."""
    marker = tmp_path / "n"
    wf = f"""
    name: transitions
    blocks:
      start: {{type: manual}}
      flaky:
        type: function
        retries: 1
        retry_backoff: 0
        code: |
          import pathlib
          p = pathlib.Path({str(marker)!r})
          if not p.exists():
              p.write_text("1")
              raise RuntimeError("first attempt")
          return {{"key": <env.FLOWYARD_SPEC_SECRET>[:2], "n": <start.n>}}
      route: {{type: condition, if: "<flaky.n> > 1"}}
      never: {{type: function, code: "return 1"}}
    edges: [start -> flaky, flaky -> route, route.true -> never]
    """
    monkeypatch.setenv("FLOWYARD_SPEC_SECRET", "s3cr3t-spec-value")
    result = await run_yaml(wf, {"n": 1})
    assert result["status"] == "succeeded", result["error"]
    events = await runtime.run_events(result["execution_id"])
    kinds = [(e["type"], e["block"]) for e in events]
    assert kinds == [
        ("run_queued", None),
        ("run_started", None),
        ("block_started", "start"),
        ("block_succeeded", "start"),
        ("block_started", "flaky"),
        ("block_retrying", "flaky"),
        ("block_started", "flaky"),
        ("block_succeeded", "flaky"),
        ("block_started", "route"),
        ("block_succeeded", "route"),
        ("block_skipped", "never"),
        ("run_succeeded", None),
    ]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    stored = await runtime.run_result(result["execution_id"])
    flaky = stored["blocks"]["flaky"]
    assert flaky["status"] == "succeeded" and flaky["attempts"] == 2
    assert flaky["started_at"] <= flaky["finished_at"]
    assert flaky["inputs"] == {"<env.FLOWYARD_SPEC_SECRET>": "***", "<start.n>": 1}
    assert stored["blocks"]["never"]["status"] == "skipped"
    assert stored["blocks"]["route"]["output"] == {"branch": "false", "value": False}


async def test_a_block_interrupted_by_a_failing_sibling_ends_failed(
    run_yaml, runtime: Runtime
) -> None:
    """A block's record ends in succeeded, failed or skipped: a sibling still running
    when the run fails is not left `running` in a finished run."""
    wf = """
    name: sibling
    blocks:
      start: {type: manual}
      slow: {type: function, code: "import time; time.sleep(3); return 1"}
      boom: {type: function, code: "raise ValueError('x')"}
    edges: [start -> slow, start -> boom]
    """
    result = await run_yaml(wf)
    assert result["status"] == "failed" and result["error"]["block"] == "boom"
    assert result["blocks"]["slow"]["status"] == "failed"
    assert result["blocks"]["slow"]["error"]["type"] == "Cancelled"
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["slow"]["status"] == "failed"
    assert stored["blocks"]["slow"]["error"] == result["blocks"]["slow"]["error"]


# -- Run result ---------------------------------------------------------------------------

ROUTED = """
name: routed
blocks:
  start: {type: manual}
  route: {type: condition, if: "<start.n> > 0"}
  pos: {type: function, code: "return {'sign': 'pos'}"}
  neg: {type: function, code: "return {'sign': 'neg'}"}
  also: {type: function, code: "return {'also': True}"}
  each: {type: loop, items: [1, 2], body: [inner]}
  inner: {type: function, code: "return {'inner': <item>}"}
edges: [start -> route, route.true -> pos, route.false -> neg, start -> each]
"""


async def test_output_is_the_one_sink_that_ran_or_a_mapping(run_yaml) -> None:
    """Without `output:`, the output of the one sink that ran (bodies do not count),
    or a mapping sink id → output when several ran."""
    one = ROUTED.replace("start -> each]", "start -> each, each -> also]")
    result = await run_yaml(one, {"n": 1})
    # sinks: pos (ran), neg (skipped), also (ran) — `inner` is in a body
    assert result["output"] == {"pos": {"sign": "pos"}, "also": {"also": True}}
    only = (
        ROUTED.replace(", start -> each]", "]")
        .replace(
            "  each: {type: loop, items: [1, 2], body: [inner]}\n  inner: {type: function, code: \"return {'inner': <item>}\"}\n",
            "",
        )
        .replace("  also: {type: function, code: \"return {'also': True}\"}\n", "")
    )
    result = await run_yaml(only, {"n": -1})
    assert result["output"] == {"sign": "neg"}
    assert result["blocks"]["pos"]["status"] == "skipped"
    result = await run_yaml(one + "output: <each.results>\n", {"n": 1})
    assert result["output"] == [{"inner": 1}, {"inner": 2}]


async def test_run_result_shape(run_yaml) -> None:
    """The SPEC's JSON: execution_id, workflow, status, started_at, finished_at,
    output, error, blocks {status, attempts, duration_ms, output, error}."""
    result = await run_yaml(
        "name: shape\nblocks:\n  s: {type: manual}\n  f: {type: function, code: 'return 5'}\n"
        "edges: [s -> f]\n"
    )
    assert {"execution_id", "workflow", "status", "started_at", "finished_at", "output",
            "error", "blocks"} <= set(result)  # fmt: skip
    assert result["workflow"] == "shape" and result["error"] is None
    f = result["blocks"]["f"]
    assert {"status", "attempts", "duration_ms", "output", "error"} <= set(f)
    assert f["output"] == {"result": 5} and isinstance(f["duration_ms"], float)


async def test_a_run_cancelled_before_it_began_has_the_result_shape(
    runtime: Runtime, write_workflow
) -> None:
    """`cancelled` is a run status like the others: its result has every key."""
    wf = write_workflow("name: early\nblocks:\n  s: {type: manual}\n")
    sub = await runtime.submit(wf, {})
    assert await runtime.cancel(sub.execution_id)
    result = await runtime.wait(sub.execution_id, timeout=30)
    assert result["status"] == "cancelled"
    assert {"execution_id", "workflow", "status", "started_at", "finished_at", "output",
            "error", "blocks"} <= set(result)  # fmt: skip
    assert result["finished_at"] is not None
    assert set(result["error"]) == {"type", "message", "block"}
