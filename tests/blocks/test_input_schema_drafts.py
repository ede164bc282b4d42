"""A manual trigger's ``input_schema`` is checked by the draft its ``$schema`` names,
the draft its inputs are then checked by: it was checked as 2020-12 whatever it
said, so a valid draft-04 or draft-07 schema was refused, and a draft-04 schema
invalid in draft 4 passed and was then applied by draft-4 rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

from blocks.manual import run_input_problems
from engine.model import load_file

DRAFT4 = "http://json-schema.org/draft-04/schema#"
DRAFT7 = "http://json-schema.org/draft-07/schema#"

WORKFLOW = """
name: drafts
blocks:
  start:
    type: manual
    input_schema:
      $schema: "{dialect}"
      type: object
      properties:
        n: {n}
        pair: {pair}
"""


def _write(tmp_path: Path, dialect: str, n: str, pair: str = "{}") -> Path:
    path = tmp_path / "drafts.yaml"
    path.write_text(WORKFLOW.format(dialect=dialect, n=n, pair=pair))
    return path


def test_a_draft_04_schema_is_valid_by_draft_4_and_applied_by_it(tmp_path: Path) -> None:
    wf = load_file(_write(tmp_path, DRAFT4, "{type: integer, minimum: 5, exclusiveMinimum: true}"))
    assert run_input_problems(wf, {"n": 6}) == []
    assert run_input_problems(wf, {"n": 5}) == ["n: 5 is less than or equal to the minimum of 5"]


def test_a_draft_07_schema_with_tuple_items_is_valid_and_applied(tmp_path: Path) -> None:
    pair = "{type: array, items: [{type: string}, {type: integer}]}"
    wf = load_file(_write(tmp_path, DRAFT7, "{}", pair))
    assert run_input_problems(wf, {"pair": ["a", 1]}) == []
    assert run_input_problems(wf, {"pair": ["a", "b"]}) == ["pair.1: 'b' is not of type 'integer'"]


def test_a_schema_invalid_in_its_own_draft_is_refused(tmp_path: Path) -> None:
    """`exclusiveMaximum: 5` is a 2020-12 keyword's form; in draft 4 it is a boolean."""
    text = WORKFLOW.format(dialect=DRAFT4, n="{type: integer, exclusiveMaximum: 5}", pair="{}")
    [said] = problems(tmp_path, text, name="drafts.yaml")
    assert "block 'start': field 'input_schema': not a valid JSON Schema: 5 is not of type " in said
    assert "'boolean'" in said, said


@pytest.mark.parametrize("dialect", ["https://json-schema.org/draft/2020-12/schema", ""])
def test_without_a_draft_04_or_07_dialect_tuple_items_are_refused_as_2020_12(
    tmp_path: Path, dialect: str
) -> None:
    """No `$schema` (or one jsonschema does not know) is 2020-12, where `items` is
    one schema: both for checking the schema and for applying it."""
    pair = "{type: array, items: [{type: string}]}"
    text = WORKFLOW.format(dialect=dialect, n="{}", pair=pair)
    if not dialect:
        text = text.replace('      $schema: ""\n', "")
    [said] = problems(tmp_path, text, name="drafts.yaml")
    assert "field 'input_schema': not a valid JSON Schema: " in said, said
