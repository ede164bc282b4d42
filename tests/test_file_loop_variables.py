"""A loop or parallel `as:` may not hide a block or a reference root in its body, as
a block id may not be `input`: `<f>` would silently be the item, not block f."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file

HEAD = (
    "name: t\nblocks:\n  start: {type: manual}\n  f: {type: function, code: 'return 1'}\n"
    "  x: {type: function, code: 'return 1'}\n"
)


@pytest.mark.parametrize("kind", ["loop", "parallel"])
@pytest.mark.parametrize("name", ["f", "input", "env", "workflow", "loop", "state"])
def test_as_may_not_hide_a_block_or_a_root(tmp_path: Path, kind: str, name: str) -> None:
    found = problems(
        tmp_path,
        HEAD + f"  l: {{type: {kind}, items: [1, 2], as: {name}, body: [x]}}\n"
        "edges: [start -> f, f -> l]\n",
    )
    assert len(found) == 1, found
    assert f"block 'l': field 'as': loop variable '{name}' would hide" in found[0], found


def test_another_name_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        HEAD
        + "  l: {type: loop, items: [1, 2], as: order, body: [x]}\nedges: [start -> f, f -> l]\n"
    )
    assert "l" in load_file(path).blocks


def test_a_nested_loop_may_not_reuse_the_outer_loops_variable(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + "  outer: {type: loop, items: [[1]], as: order, body: [inner]}\n"
        "  inner: {type: loop, items: <order>, as: order, body: [x]}\n"
        "edges: [start -> outer]\n",
    )
    assert len(found) == 1, found
    assert (
        "block 'inner': field 'as': loop variable 'order' would hide the item of the loop 'outer'"
        in found[0]
    )


# -- blocks hidden by a body's own names (no `as` involved) ------------------------------


@pytest.mark.parametrize("kind", ["loop", "parallel"])
def test_a_block_named_item_is_hidden_by_the_default_variable(tmp_path: Path, kind: str) -> None:
    """`<item.y>` in the body read the loop's item: validation said ok and the run
    failed with "no field 'y' in <item>"."""
    found = problems(
        tmp_path,
        "name: t\nblocks:\n  start: {type: manual}\n"
        "  item: {type: function, code: \"return {'y': 5}\"}\n"
        f"  each: {{type: {kind}, items: [1, 2], body: [use]}}\n"
        "  use: {type: function, code: 'return <item.y>'}\n"
        "edges: [start -> item, item -> each]\n",
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'each': field 'as': loop variable 'item' (the default of"
        " `as`) would hide block 'item' in the body (<item> would be the item, not the block's"
        " output); set `as` to another name, or rename the block"
    ]


@pytest.mark.parametrize(
    "kind, name",
    [("loop", "loop"), ("loop", "state"), ("parallel", "loop")],
)
def test_a_block_named_loop_or_state_is_hidden_in_a_body(
    tmp_path: Path, kind: str, name: str
) -> None:
    found = problems(
        tmp_path,
        "name: t\nblocks:\n  start: {type: manual}\n"
        f"  {name}: {{type: function, code: \"return {{'y': 5}}\"}}\n"
        f"  each: {{type: {kind}, items: [1, 2], as: n, body: [use]}}\n"
        f"  use: {{type: function, code: 'return <{name}.y>'}}\n"
        f"edges: [start -> {name}, {name} -> each]\n",
    )
    assert len(found) == 1, found
    assert found[0].startswith(
        f"{tmp_path / 'bad.yaml'}: block '{name}': field 'blocks': block id '{name}' is hidden in"
        f" the body of 'each', where <{name}> is "
    ), found


def test_a_block_the_body_cannot_see_is_not_hidden(tmp_path: Path) -> None:
    """A loop block named `loop` (its body cannot read its output anyway), a `state`
    block after it, and a `state` block beside a parallel (whose body has no <state>)."""
    path = tmp_path / "ok.yaml"
    path.write_text(
        "name: ok\nblocks:\n  start: {type: manual}\n"
        "  loop: {type: loop, count: 2, body: [use]}\n"
        "  use: {type: function, code: 'return <loop.index> + <item>'}\n"
        "  state: {type: function, code: 'return <loop.iterations>'}\n"
        "  fan: {type: parallel, items: [1], as: n, body: [again]}\n"
        "  again: {type: function, code: 'return <n>'}\n"
        "edges: [start -> loop, loop -> state, start -> fan]\n"
    )
    assert {"loop", "state", "fan"} <= set(load_file(path).blocks)


# -- names a body has: a parallel's branches have no item and no index -------------------

BRANCHES = (
    "name: t\nblocks:\n  start: {type: manual}\n"
    "  p: {type: parallel, branches: {a: [g], b: [h]}%s}\n"
    '  g: {type: function, code: \'return {"i": <loop.index>, "s": <state>}\'}\n'
    "  h: {type: function, code: 'return {\"v\": <item>}'}\n"
)


def test_a_branch_has_no_item_and_no_loop_index(tmp_path: Path) -> None:
    """Validation said ok; the run failed with "names 'loop', which has no value here".
    (`<state>` is null in any body, as documented.)"""
    found = problems(tmp_path, BRANCHES % "" + "edges: [start -> p]\n")
    file = tmp_path / "bad.yaml"
    assert found == [
        f"{file}: block 'g': field 'code': reference <loop.index> is the iteration's number and"
        " exists only in the body of a loop or of a parallel over `items`; block 'g' is in"
        " branch 'a' of parallel 'p', which runs each branch once, with no item and no index",
        f"{file}: block 'h': field 'code': reference <item> names no block, and no loop (or"
        " parallel over `items`) around this block calls its item 'item'; block 'h' is in"
        " branch 'b' of parallel 'p', which runs each branch once, with no item and no index",
    ]


def test_as_on_a_parallel_with_branches_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: t\nblocks:\n  start: {type: manual}\n"
        "  p: {type: parallel, branches: {a: [g]}, as: order}\n"
        "  g: {type: function, code: 'return 1'}\n"
        "edges: [start -> p]\n",
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'p': field 'as': `as` names the item of a parallel over"
        " `items`; a parallel with `branches` runs each branch once, with no item: remove `as`"
    ]


def test_a_containers_own_fields_are_read_outside_its_body(tmp_path: Path) -> None:
    """`items` and `accumulate.initial` are resolved before the body runs: a top-level
    loop's <loop.index> or <state> there failed the run; `while` and
    `accumulate.next` are read with the iteration's names."""
    found = problems(
        tmp_path,
        "name: t\nblocks:\n  start: {type: manual}\n"
        "  l: {type: loop, items: <loop.index>, body: [m],"
        " accumulate: {initial: <state>, next: <m.result>}}\n"
        "  m: {type: function, code: 'return 1'}\n"
        "  w: {type: loop, while: '<loop.index> < <state>', body: [n],"
        " accumulate: {initial: 3, next: <loop.index>}}\n"
        "  n: {type: function, code: 'return <item>'}\n"
        "edges: [start -> l, start -> w]\n",
    )
    file = tmp_path / "bad.yaml"
    assert found == [
        f"{file}: block 'l': field 'items': reference <loop.index> is the iteration's number"
        " and exists only in the body of a loop or of a parallel over `items`",
        f"{file}: block 'l': field 'accumulate': reference <state> exists only inside a loop"
        " or parallel body",
    ]


async def test_in_a_branch_inside_a_loop_the_names_are_the_loops(run_yaml) -> None:
    wf = """
    name: branch_in_loop
    blocks:
      start: {type: manual}
      outer: {type: loop, items: [x, y], body: [p]}
      p: {type: parallel, branches: {a: [g]}}
      g: {type: function, code: 'return {"i": <loop.index>, "item": <item>, "s": <state>}'}
    edges: [start -> outer]
    output: <outer.results>
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert [r["results"]["a"] for r in result["output"]] == [
        {"i": 0, "item": "x", "s": None},
        {"i": 1, "item": "y", "s": None},
    ]
