"""A workflow whose outline is wrong — `blocks` as a list, a block as text, `edges`
as one text, an edge as a mapping — is told what it should look like. Validation
quoted the schema: `[{'start': {'type': 'manual'}}] is not of type 'object'`, Python's
text of the value and JSON Schema's word for a mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types

HEAD = "name: t\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "blocks:\n  - start:\n      type: manual\n",
            "field 'blocks': `blocks` is a mapping of block id to block, each id on a line of "
            "its own (`start:` with `type: manual` indented below it), not a list: remove the "
            "'- ' before each block id",
        ),
        (
            "blocks: start\n",
            "field 'blocks': `blocks` is a mapping of block id to block, each id on a line of "
            'its own (`start:` with `type: manual` indented below it), not "start"',
        ),
        (
            "blocks:\n  start:\n    type:manual\n",
            "block 'start': a block is a mapping of its keys (`type: …` and the rest), not "
            "\"type:manual\": a key needs a blank after its colon ('type: manual')",
        ),
        (
            "blocks:\n  start: {type: manual}\n  f: {type: function, code: return 1}\n"
            "edges:\n  start -> f\n",
            "field 'edges': `edges` is a list: write each edge on a line of its own, starting "
            "with '- ' (`- start -> f`), not \"start -> f\"",
        ),
        (
            "blocks:\n  start: {type: manual}\n  f: {type: function, code: return 1}\n"
            "edges:\n  - start: f\n",
            "field 'edges.0': an edge is text such as 'start -> f', not a mapping",
        ),
        (
            "blocks:\n  start: {type: manual}\n  f: {type: function, code: return 1}\n"
            "edges:\n  - [start, f]\n",
            "field 'edges.0': an edge is text such as 'a -> b', not a list",
        ),
        (
            "blocks:\n  start: {type: manual}\n  l: {type: loop, count: 2, body: g}\n"
            "  g: {type: function, code: return 1}\nedges: [start -> l]\n",
            "block 'l': field 'body': a list of block ids, not \"g\": write [g]",
        ),
        (
            "blocks:\n  start: {type: manual}\n  p: {type: parallel, branches: [a]}\n"
            "  a: {type: function, code: return 1}\nedges: [start -> p]\n",
            "block 'p': field 'branches': `branches` maps each branch's name to its list of "
            "block ids (`branches: {first: [a], second: [b]}`), not a list",
        ),
    ],
)
def test_the_outline_is_said_in_words(tmp_path: Path, text: str, says: str) -> None:
    found = problems(tmp_path, HEAD + text)
    assert found == [f"{tmp_path}/bad.yaml: {says}"]
    assert "of type" not in found[0] and "{'" not in found[0]


def test_an_empty_block_is_still_said_to_be_empty(tmp_path: Path) -> None:
    found = problems(tmp_path, HEAD + "blocks:\n  start:\n")
    assert found == [
        f"{tmp_path}/bad.yaml: block 'start': is empty (YAML reads nothing after the colon "
        "as null): write a value"
    ]
