"""A loop's or parallel's own fields are resolved before its body runs (`items`,
`count`, `max_concurrency`, `accumulate.initial`) or checked before each iteration
(`while`): a reference there to a block of its body has no value. It validated ok,
then every run failed with "reference <b.v> names 'b', which has no value here"."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file

HEAD = (
    "name: t\nblocks:\n  start: {type: manual}\n  b: {type: function, code: \"return {'v': 1}\"}\n"
)


@pytest.mark.parametrize(
    ("container", "field"),
    [
        ("{type: loop, items: '<b.v>', body: [b]}", "items"),
        ("{type: loop, count: '<b.v>', body: [b]}", "count"),
        ("{type: parallel, items: '<b.v>', body: [b]}", "items"),
        (
            "{type: loop, count: 2, body: [b], accumulate: {initial: '<b.v>', next: '<b.v>'}}",
            "accumulate",
        ),
    ],
)
def test_a_container_field_may_not_read_its_own_body(
    tmp_path: Path, container: str, field: str
) -> None:
    found = problems(tmp_path, HEAD + f"  c: {container}\nedges: [start -> c]\n")
    assert len(found) == 1, found
    assert f"block 'c': field '{field}': reference <b.v>: `" in found[0], found
    assert "before the body runs, where block 'b' of its body has no value yet" in found[0]


def test_a_container_field_may_not_read_a_nested_body(tmp_path: Path) -> None:
    # Loop's own `while` check looks at its direct body only.
    text = HEAD + (
        "  outer: {type: loop, while: '<b.v> < 3', body: [inner], max_iterations: 3}\n"
        "  inner: {type: loop, count: 2, body: [b]}\n"
        "  p: {type: parallel, branches: {one: [x]}, max_concurrency: 2}\n"
        "  x: {type: loop, items: '<y.v>', body: [y]}\n"
        "  y: {type: function, code: 'return 1'}\n"
        "edges: [start -> outer, start -> p]\n"
    )
    found = problems(tmp_path, text)
    assert len(found) == 2, found
    assert "block 'outer': field 'while': reference <b.v>: `while` is checked before" in found[0]
    assert "block 'x': field 'items': reference <y.v>: `items` is resolved before" in found[1]


def test_a_while_naming_its_body_is_said_once(tmp_path: Path) -> None:
    text = HEAD + "  c: {type: loop, while: '<b.v> < 3', body: [b]}\nedges: [start -> c]\n"
    [found] = problems(tmp_path, text)
    assert "carry the value in `accumulate`" in found


def test_accumulate_next_and_fields_reading_upstream_still_validate(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        HEAD + "  n: {type: function, code: \"return {'items': [1, 2], 'n': 2}\"}\n"
        "  c: {type: loop, items: '<n.items>', body: [b],"
        " accumulate: {initial: '<n.n>', next: '<b.v>'}}\n"
        "edges: [start -> n, n -> c]\n"
    )
    load_file(path)


@pytest.mark.parametrize(
    ("written", "field", "said"),
    [
        # Not "write it in quotes ('5')": quoted, it is text, still no reference.
        ("5", "accumulate.next", "not 5"),
        ("'5'", "accumulate", "not '5'"),
        ("'<start.x>'", "accumulate", "<start.x> is outside it"),
    ],
)
def test_accumulate_next_is_explained_with_a_block_of_the_file(
    tmp_path: Path, written: str, field: str, said: str
) -> None:
    """The hint named <add.total>, a block of the docs' example, not of the file."""
    [found] = problems(
        tmp_path,
        HEAD
        + f"  c: {{type: loop, count: 2, body: [b], accumulate: {{initial: 0, next: {written}}}}}\n"
        "edges: [start -> c]\n",
    )
    assert f"block 'c': field '{field}': `accumulate.next` is one reference into the body," in found
    assert "such as <b.field>" in found and said in found, found
    assert "quotes" not in found and "add" not in found, found


@pytest.mark.parametrize("name", ["", "x]", "a[0]", "[", "a.b]"])
def test_a_branch_name_a_block_path_cannot_hold_is_a_problem(tmp_path: Path, name: str) -> None:
    # A branch's blocks are recorded as `p[<branch>].x`: with a `[` or `]` in the name,
    # or none, the run viewer could not tell the branch from the path and showed its
    # blocks outside the parallel, unlabelled, while the API listed them in it.
    text = (
        "name: t\nblocks:\n  start: {type: manual}\n"
        f"  p: {{type: parallel, branches: {{{json.dumps(name)}: [x], ok: [y]}}}}\n"
        "  x: {type: function, code: 'return 1'}\n  y: {type: function, code: 'return 2'}\n"
        "edges: [start -> p]\n"
    )
    found = problems(tmp_path, text)
    assert len(found) == 1 and f"block 'p': field 'branches.{name}'" in found[0], found
    schema = json.loads((Path(__file__).parent.parent / "docs/workflow.schema.json").read_text())
    doc = {
        "name": "t",
        "blocks": {
            "start": {"type": "manual"},
            "p": {"type": "parallel", "branches": {name: ["x"]}},
        },
    }
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(doc))


def test_branch_names_with_dots_blanks_and_letters_of_any_script_validate(tmp_path: Path) -> None:
    text = (
        "name: t\nblocks:\n  start: {type: manual}\n"
        "  p: {type: parallel, branches: {'v1.2': [x], 'notify customer': [y], 'ü': [z]}}\n"
        "  x: {type: function, code: 'return 1'}\n  y: {type: function, code: 'return 2'}\n"
        "  z: {type: function, code: 'return 3'}\nedges: [start -> p]\n"
    )
    (tmp_path / "ok.yaml").write_text(text)
    load_file(tmp_path / "ok.yaml")
