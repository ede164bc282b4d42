"""A condition written the JavaScript or Jinja way (what n8n, Zapier and Ansible users
type first) is told the Python-style spelling: `===`, `&&`, `||`, `!x`, `=`, `{{ … }}`
and a block's field without its `<…>`. Validation said only "invalid syntax", or
"'start' is not defined" for `{{ start.x == 'a' }}`."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types

FLOW = "name: t\nblocks:\n  start: {type: manual}\n  c: {type: condition, if: IF}\nedges: [start -> c]\n"


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        (
            '<start.x> === "a" && <start.y> != None',
            "invalid syntax; expressions are Python-style: compare with == and != (not === "
            "and !==), write and (not &&)",
        ),
        (
            '<start.x> == "a" || !<start.y>',
            "invalid syntax; expressions are Python-style: write or (not ||), write not (not !)",
        ),
        (
            '<start.x> = "a"',
            "invalid syntax; expressions are Python-style: compare with == (= is no comparison)",
        ),
        (
            "{{ start.x == 'a' }}",
            "'start' is not defined; expressions are Python-style: a value is a reference such "
            "as <block.field>, not {{ … }}",
        ),
        (
            'start.x == "a"',
            "'start' is not defined; a value is written as a reference: did you mean <start.x>?",
        ),
        (
            "<start.status> == paid",
            "'paid' is not defined; a value is written as a reference, e.g. <block.field> or "
            '<item>, and text in quotes: "paid"',
        ),
    ],
)
def test_another_language_is_told_the_python_style(
    tmp_path: Path, expression: str, says: str
) -> None:
    (found,) = problems(tmp_path, FLOW.replace("IF", repr(expression)))
    assert found == (
        f"{tmp_path}/bad.yaml: block 'c': field 'if': bad expression {expression!r}: {says}"
    )


def test_the_same_characters_inside_quotes_are_not_blamed(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, FLOW.replace("IF", repr('<start.x> == "a && b" +')))
    assert found.endswith("invalid syntax"), found
