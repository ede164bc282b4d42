"""`output: f.total` — a reference written without its angle brackets — validated ok,
and every run's result was the text "f.total". It is now refused with the reference
meant; text that names no block stays a constant."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file

FLOW = (
    "name: t\nblocks:\n  start: {type: manual}\n"
    "  f: {type: function, code: 'return {\"total\": 1}'}\nedges: [start -> f]\noutput: OUT\n"
)


@pytest.mark.parametrize("written", ["f.total", "input.order_id", "f.rows.0.id"])
def test_a_reference_without_brackets_is_refused(tmp_path: Path, written: str) -> None:
    assert problems(tmp_path, FLOW.replace("OUT", written)) == [
        f"{tmp_path}/bad.yaml: field 'output': {written!r} is text, so every run's result "
        f"would be those characters: did you mean <{written}>?"
    ]


@pytest.mark.parametrize("written", ["done.ok", "'f total'", "f", "<f.total>", "'v1.2'"])
def test_other_text_and_references_pass(tmp_path: Path, written: str) -> None:
    (tmp_path / "ok.yaml").write_text(FLOW.replace("OUT", written))
    load_file(tmp_path / "ok.yaml")
