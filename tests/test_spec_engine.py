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


NAP = "SELECT clock_timestamp() AS began, pg_sleep(0.3), clock_timestamp() AS ended"


def _most_at_once(spans: list[tuple[str, str]]) -> int:
    """The most spans (ISO start, ISO end) open at one moment."""
    edges = sorted([(b, 1) for b, _ in spans] + [(e, -1) for _, e in spans])
    most = now = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


async def test_independent_blocks_run_concurrently(run_yaml) -> None:
    """ "Independent blocks run concurrently (asyncio)": their time spans overlap
    (read from the database's clock, not a threshold on how long the run took)."""
    wf = f"""
    name: side_by_side
    blocks:
      start: {{type: manual}}
      one: {{type: database, query: "{NAP}"}}
      two: {{type: database, query: "{NAP}"}}
    edges: [start -> one, start -> two]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    one, two = (result["blocks"][b]["output"] for b in ("one", "two"))
    assert _most_at_once([(one["began"], one["ended"]), (two["began"], two["ended"])]) == 2


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


# -- Blocks: loop, parallel, condition, function ------------------------------------------


async def test_parallel_results_in_order_and_errors(run_yaml) -> None:
    """`parallel`: `results` per branch name or per item, in order; `errors`;
    `on_error: continue` keeps the others' results, `fail` fails the run."""
    wf = """
    name: fan
    blocks:
      start: {type: manual}
      items:
        type: parallel
        items: <start.delays>
        as: delay
        on_error: continue
        max_concurrency: 3
        body: [nap]
      nap:
        type: function
        code: |
          import time
          time.sleep(<delay>)
          if <delay> == 0.2:
              raise ValueError("two")
          return {"d": <delay>, "i": <loop.index>}
      sides:
        type: parallel
        branches: {left: [l1, l2], right: [r1]}
      l1: {type: function, code: "return {'l': 1}"}
      l2: {type: function, code: "return {'l': <l1.l> + 1}"}
      r1: {type: function, code: "return {'r': True}"}
    edges: [start -> items, start -> sides, l1 -> l2]
    """
    result = await run_yaml(wf, {"delays": [0.3, 0.2, 0.0]})
    assert result["status"] == "succeeded", result["error"]
    out = result["blocks"]["items"]["output"]
    assert out["results"] == [{"d": 0.3, "i": 0}, None, {"d": 0.0, "i": 2}]
    assert len(out["errors"]) == 1 and out["errors"][0]["index"] == 1
    assert out["errors"][0]["type"] == "ValueError"
    sides = result["blocks"]["sides"]["output"]
    assert sides == {"results": {"left": {"l": 2}, "right": {"r": True}}, "errors": {}}
    failing = wf.replace("on_error: continue", "on_error: fail")
    result = await run_yaml(failing, {"delays": [0.0, 0.2]})
    assert result["status"] == "failed" and result["error"]["type"] == "ValueError"


async def test_loop_for_each_results_are_each_iterations_last_body_output(run_yaml) -> None:
    """`loop`: `items` + `as`; `results` (each iteration's last body output), `state`
    (the fold of `accumulate.next`), `iterations`; the body's entry is the block
    with no incoming edge from inside the body."""
    wf = """
    name: fold
    blocks:
      start: {type: manual}
      fold:
        type: loop
        items: <start.events>
        as: event
        body: [apply, tag]
        accumulate: {initial: {total: 0}, next: <apply.state>}
      apply:
        type: function
        code: |
          return {"state": {"total": <state.total> + <event.amount>}}
      tag: {type: function, code: "return {'n': <loop.index>, 'total': <apply.state.total>}"}
    edges: [start -> fold, apply -> tag]
    output: {state: <fold.state>, results: <fold.results>, iterations: <fold.iterations>}
    """
    result = await run_yaml(wf, {"events": [{"amount": 5}, {"amount": 7}]})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {
        "state": {"total": 12},
        "results": [{"n": 0, "total": 5}, {"n": 1, "total": 12}],
        "iterations": 2,
    }


async def test_loop_max_iterations_defaults_to_10000(run_yaml) -> None:
    wf = """
    name: endless
    blocks:
      start: {type: manual}
      spin: {type: loop, while: "True", collect: false, body: [tick]}
      tick: {type: condition, if: "True"}
    edges: [start -> spin]
    """
    result = await run_yaml(wf)
    assert result["status"] == "failed"
    assert "max_iterations=10000" in result["error"]["message"]


async def test_function_output_forms(run_yaml) -> None:
    """`function`: whatever it returns (a non-dict value is `{result: value}`); `stdout`;
    `input` with attribute access."""
    wf = """
    name: forms
    blocks:
      start: {type: manual}
      listy: {type: function, code: "print('hi'); return [input.start.order.id, 2]"}
      dicty: {type: function, code: "return {'id': input.start.order.id}"}
    edges: [start -> listy, listy -> dicty]
    """
    result = await run_yaml(wf, {"order": {"id": 9}})
    assert result["blocks"]["listy"]["output"] == {"result": [9, 2], "stdout": "hi\n"}
    assert result["blocks"]["dicty"]["output"] == {"id": 9}


async def test_output_naming_a_skipped_block_is_null(run_yaml) -> None:
    """`output: <capture.status>` (the SPEC's example) with `capture` behind a condition:
    the run whose branch was not taken succeeds with a null output; a field missing
    from a block that ran is still an error naming the reference."""
    wf = """
    name: out_skipped
    blocks:
      start: {type: manual}
      route: {type: condition, if: "<start.paid>"}
      capture: {type: function, code: "return {'status': 200}"}
    edges: [start -> route, route.true -> capture]
    output: {status: <capture.status>, branch: <route.branch>}
    """
    result = await run_yaml(wf, {"paid": False})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"status": None, "branch": "false"}
    assert (await run_yaml(wf, {"paid": True}))["output"] == {"status": 200, "branch": "true"}
    typo = wf.replace("<route.branch>", "<route.brnch>")
    result = await run_yaml(typo, {"paid": False})
    assert result["status"] == "failed" and "<route.brnch>" in result["error"]["message"]


async def test_body_variables_resolve_in_a_parallel_body(run_yaml) -> None:
    """ "Inside a body, the loop variable (`as`, default `item`), `<loop.index>` and
    `<state>` resolve" — a parallel's body too (no accumulator: `<state>` is null), and
    a loop's `<state>` shows through a parallel nested in it."""
    wf = """
    name: par_vars
    blocks:
      start: {type: manual}
      fan: {type: parallel, items: [a, b], body: [show]}
      show: {type: function, code: "return {'item': <item>, 'i': <loop.index>, 'state': <state>}"}
      outer:
        type: loop
        count: 2
        body: [inner]
        accumulate: {initial: 10, next: <inner.results.0.s>}
      inner: {type: parallel, items: [1], as: one, body: [add]}
      add: {type: function, code: "return {'s': <state> + <one>}"}
    edges: [start -> fan, start -> outer]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["fan"]["output"]["results"] == [
        {"item": "a", "i": 0, "state": None},
        {"item": "b", "i": 1, "state": None},
    ]
    assert result["blocks"]["outer"]["output"]["state"] == 12


@pytest.mark.parametrize("limit", [1, 4])
async def test_parallel_max_concurrency(run_yaml, limit: int) -> None:
    """`parallel` `max_concurrency` bounds how many items run at once (their spans
    by the database's clock): never more than the limit; with room, more than one."""
    wf = f"""
    name: bounded
    blocks:
      start: {{type: manual}}
      fan: {{type: parallel, items: [1, 2, 3, 4], max_concurrency: {limit}, body: [nap]}}
      nap: {{type: database, query: "{NAP}, <item>::int AS n"}}
    edges: [start -> fan]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    results = result["output"]["results"]
    assert [r["n"] for r in results] == [1, 2, 3, 4]
    most = _most_at_once([(r["began"], r["ended"]) for r in results])
    assert most == 1 if limit == 1 else 1 < most <= limit


async def test_a_webhook_run_input_is_webhook_and_workflow(runtime: Runtime) -> None:
    """ "`<input.…>` (the run's input; for a webhook run it is `{webhook: {...},
    workflow: {...}}`)", whatever the webhook block is called."""
    import json
    import uuid

    from blocks.webhook import accept

    name = f"spec_hook_{uuid.uuid4().hex[:8]}"
    path = runtime.workflows_dir / f"{name}.yaml"
    path.write_text(
        f"""
name: {name}
blocks:
  hook: {{type: webhook, path: spec/{name}}}
  read:
    type: function
    code: |
      return {{"order": <input.webhook.body.order_id>, "via": <input.webhook.method>,
              "workflow": <input.workflow.name>, "same": <input.webhook.body> == <hook.body>}}
edges: [hook -> read]
"""
    )
    try:
        body = json.dumps({"order_id": "o-7"}).encode()
        headers = {"Content-Type": "application/json"}
        response = await accept(runtime, f"spec/{name}", "POST", headers, {}, body)
        assert response.status == 202, response.body
        result = await runtime.wait(response.body["execution_id"], timeout=30)
    finally:
        path.unlink()
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"order": "o-7", "via": "POST", "workflow": name, "same": True}


async def test_a_block_interrupted_by_a_shutdown_and_resumed_ends_clean(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    """ "A run whose process died resumes from its last completed block": the block cut
    off by the shutdown runs again, and its record ends succeeded without the old error."""
    import asyncio
    import socket

    wf_file = tmp_path / "cut.yaml"
    wf_file.write_text(
        "name: spec_cut_off\nblocks:\n  s: {type: manual}\n"
        "  wait: {type: function, code: 'import time; time.sleep(1); return 1'}\n"
        "edges: [s -> wait]\n"
    )
    first = Runtime(workspace / "workflows", database_url, workspace, function_workers=1, resume=False)  # fmt: skip
    await first.start()
    sub = await first.submit(first.load_workflow(wf_file), {})
    await asyncio.sleep(0.3)
    await first.close()
    second = Runtime(workspace / "workflows", database_url, workspace, function_workers=1, resume=False)  # fmt: skip
    await second.start()
    try:
        await second.db.log_pool.execute(
            "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = $1::uuid",
            sub.execution_id,
            f"{socket.gethostname()}:1:1",  # a dead process of this host
        )
        assert await second.resume_unfinished(sub.execution_id) == [sub.execution_id]
        result = await second.wait(sub.execution_id, timeout=30)
        assert result["status"] == "succeeded"
        stored = await second.run_result(sub.execution_id)
        types = [e["type"] for e in await second.run_events(sub.execution_id)]
    finally:
        await second.close()
    assert types.count("block_succeeded") == 2  # `s` kept, `wait` run again
    wait = stored["blocks"]["wait"]
    assert wait["status"] == "succeeded" and wait["error"] is None
    assert wait["output"] == {"result": 1}
