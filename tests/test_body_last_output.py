"""A loop's `results` is "each iteration's last body output" (SPEC), a parallel's one
per item or branch: the output of the body blocks that ran and that nothing after
them ran, not only of a body block with no outgoing edge. An iteration whose block
succeeded, beside an error edge not taken (or a condition whose branch was not
taken), gave null: the output it did produce was lost.

Real embedded PostgreSQL (fixtures in tests/conftest.py); no mocks.
"""

from __future__ import annotations

from typing import Any

import pytest

RECOVERING_BODY = """
name: NAME
blocks:
  start: {type: manual}
  each:
    type: CONTAINER
    items: [1, 2, 3]
    as: n
    body: [w, recover]
  w:
    type: function
    on_error: continue
    code: |
      if <n> == 2:
          raise ValueError("two")
      return {"x": <n>}
  recover:
    type: function
    code: |
      return {"recovered": <n>}
edges: [start -> each, w.error -> recover]
output: <each.results>
"""


@pytest.mark.parametrize("container", ["loop", "parallel"])
async def test_an_iteration_whose_error_edge_was_not_taken_gives_its_blocks_output(
    run_yaml: Any, container: str
) -> None:
    wf = RECOVERING_BODY.replace("NAME", f"recovering_{container}").replace("CONTAINER", container)
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == [{"x": 1}, {"recovered": 2}, {"x": 3}]


@pytest.mark.parametrize("container", ["loop", "parallel"])
async def test_an_iteration_ending_in_an_untaken_branch_gives_the_conditions_output(
    run_yaml: Any, container: str
) -> None:
    wf = f"""
    name: branching_{container}
    blocks:
      start: {{type: manual}}
      each:
        type: {container}
        items: [1, 5]
        as: n
        body: [check, big]
      check: {{type: condition, if: "<n> > 3"}}
      big: {{type: function, code: "return {{'big': <n>}}"}}
    edges: [start -> each, check.true -> big]
    output: <each.results>
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == [{"branch": "false", "value": False}, {"big": 5}]


async def test_a_parallel_branch_ending_in_an_untaken_branch_gives_the_conditions_output(
    run_yaml: Any,
) -> None:
    wf = """
    name: branches_end
    blocks:
      start: {type: manual}
      sides:
        type: parallel
        branches: {left: [check, never], right: [r]}
      check: {type: condition, if: "False"}
      never: {type: function, code: "return {'never': 1}"}
      r: {type: function, code: "return {'r': 1}"}
    edges: [start -> sides, check.true -> never]
    output: <sides.results>
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"left": {"branch": "false", "value": False}, "right": {"r": 1}}


async def test_an_iteration_that_ends_in_several_blocks_gives_a_mapping_of_each(
    run_yaml: Any,
) -> None:
    """Where an iteration ends in several blocks, `results` holds a mapping block →
    output of those, as when several sinks ran: here `side`, and `big` or, when its
    branch is not taken, `check` (it was `side`'s output alone then)."""
    wf = """
    name: two_ends
    blocks:
      start: {type: manual}
      each:
        type: loop
        items: [1, 5]
        as: n
        body: [check, big, side]
      check: {type: condition, if: "<n> > 3"}
      big: {type: function, code: "return {'big': <n>}"}
      side: {type: function, code: "return {'side': <n>}"}
    edges: [start -> each, check.true -> big]
    output: <each.results>
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == [
        {"check": {"branch": "false", "value": False}, "side": {"side": 1}},
        {"big": {"big": 5}, "side": {"side": 5}},
    ]


async def test_a_block_followed_by_a_join_that_ran_is_not_an_end(run_yaml: Any) -> None:
    """`a`'s error edge to `join` was not taken, but `join` ran (after `b`): the
    iteration ended in `join`, whose output alone is its result."""
    wf = """
    name: joined
    blocks:
      start: {type: manual}
      each:
        type: loop
        count: 1
        body: [a, b, join]
      a: {type: function, on_error: continue, code: "return {'a': 1}"}
      b: {type: function, code: "return {'b': 1}"}
      join: {type: function, code: "return {'joined': True}"}
    edges: [start -> each, a.error -> join, b -> join]
    output: <each.results>
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == [{"joined": True}]
