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
