"""SPEC.md, engine part: the blocks' own rules (loop, parallel, function, output),
the webhook run input, and a resumed block's record. Each test names the rule it
proves.

Real embedded PostgreSQL (fixtures in tests/conftest.py); no mocks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.runtime import Runtime

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


@pytest.mark.parametrize("isolation", ["inline", "process"])
async def test_a_field_named_like_a_dict_method_is_the_field(run_yaml, isolation: str) -> None:
    """SPEC: `input` has attribute access. An order's `items` (or `keys`, `values`) is
    the field when the code reads it, while a call stays the dict method: it was
    dict.items, so len(input.webhook.body.items) failed, and `input.a.keys` returned
    "<built-in method keys …>"."""
    wf = f"""
    name: method_named_fields_{isolation}
    blocks:
      start: {{type: manual}}
      f:
        type: function
        isolation: {isolation}
        code: |
          pairs = sorted((k, str(v)) for k, v in input.start.items())
          return {{"n": len(input.start.items), "keys": input.start.keys,
                  "first": input.start.items[0].sku, "got": input.start.get("values"),
                  "pairs": len(pairs), "plain": [1, 2].copy()}}
    edges: [start -> f]
    """
    body = {"items": [{"sku": "a"}, {"sku": "b"}], "keys": "k", "values": 3}
    result = await run_yaml(wf, body)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {
        "n": 2, "keys": "k", "first": "a", "got": 3, "pairs": 3, "plain": [1, 2]
    }  # fmt: skip


@pytest.mark.parametrize("container", ["loop", "parallel"])
async def test_retries_on_a_container_run_its_body_again(
    run_yaml, container: str, tmp_path: Path
) -> None:
    """SPEC: every block accepts `retries`. On a loop or parallel they were ignored:
    a body failure failed the container at its first attempt."""
    count = tmp_path / "count"
    shape = "count: 1" if container == "loop" else "items: [0]"
    wf = f"""
    name: container_retries_{container}
    blocks:
      start: {{type: manual}}
      c: {{type: {container}, {shape}, retries: 3, retry_backoff: 0.01, body: [s]}}
      s:
        type: function
        code: |
          import os
          p = {str(count)!r}
          n = int(open(p).read()) if os.path.exists(p) else 0
          open(p, "w").write(str(n + 1))
          if n < 2:
              raise RuntimeError(f"attempt {{n}}")
          return {{"n": n}}
    edges: [start -> c]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["c"]["attempts"] == 3
    assert count.read_text() == "3"


async def test_a_loop_over_more_items_than_max_iterations_runs_none_of_them(
    run_yaml, tmp_path
) -> None:
    """The count is known before the first iteration: refused up front, not after
    `max_iterations` iterations of the body (and their effects) have run."""
    log = tmp_path / "log"
    wf = f"""
    name: too_many
    blocks:
      start: {{type: manual}}
      each: {{type: loop, items: <start.items>, max_iterations: 3, body: [note]}}
      note:
        type: function
        code: |
          with open({str(log)!r}, "a") as f:
              f.write("x")
          return 1
    edges: [start -> each]
    """
    result = await run_yaml(wf, {"items": [1, 2, 3, 4]})
    assert result["status"] == "failed"
    assert "would run 4 times, over max_iterations=3" in result["error"]["message"]
    assert not log.exists()
    assert (await run_yaml(wf, {"items": [1, 2, 3]}))["status"] == "succeeded"
