"""A Function's output may not pass what a run record keeps of an output (64 MiB of
JSON): the block fails saying so, and in a worker the output never reaches the
engine. Returned whole, a 400 MB output took the server to 2.1 GB (the worker's
reply, the engine's copy of it, the run's result), and a bigger one killed it with
every run in it, while its record kept none of it (real embedded PostgreSQL)."""

from __future__ import annotations

import pytest

import engine._recordable
from engine._function_values import MAX_OUTPUT_CHARS

WORKFLOW = """
name: big_output_{isolation}
blocks:
  start: {{type: manual}}
  f:
    type: function
    isolation: {isolation}
    language: {language}
    code: {code}
edges: [start -> f]
"""


def test_the_limit_is_what_a_run_record_keeps() -> None:
    assert MAX_OUTPUT_CHARS == engine._recordable.MAX_RECORDED_CHARS


CODE = {
    "python": "\"return {'x': 'y' * <start.n>}\"",
    "javascript": "\"return {x: 'y'.repeat(<start.n>)};\"",
}


def workflow(isolation: str, language: str = "python") -> str:
    return WORKFLOW.format(isolation=isolation, language=language, code=CODE[language])


@pytest.mark.parametrize(
    ("isolation", "language"),
    [("process", "python"), ("inline", "python"), ("process", "javascript")],
)
async def test_an_output_over_the_limit_fails_the_block_saying_so(
    run_yaml, isolation: str, language: str
) -> None:
    text = workflow(isolation, language).replace("big_output_", f"big_output_{language}_")
    result = await run_yaml(text, {"n": MAX_OUTPUT_CHARS})
    assert result["status"] == "failed"
    error = result["blocks"]["f"]["error"]
    assert error["type"] == "OutputTooLarge" and error["block"] == "f"
    assert f"{MAX_OUTPUT_CHARS + 8:,} characters of JSON" in error["message"]  # {"x":"…"}
    assert f"over the {MAX_OUTPUT_CHARS:,}" in error["message"]
    # Just under it, the output is whole.
    result = await run_yaml(text, {"n": MAX_OUTPUT_CHARS - 8})
    assert result["status"] == "succeeded", result["error"]
    assert len(result["output"]["x"]) == MAX_OUTPUT_CHARS - 8


async def test_the_limit_counts_text_as_recorded_not_escaped(run_yaml) -> None:
    # The worker sends its reply as ASCII (é is \u00e9, 6 characters): the run log
    # keeps é as one, and so does the limit.
    text = workflow("process").replace("'y'", "'é'")
    result = await run_yaml(text, {"n": MAX_OUTPUT_CHARS // 2})
    assert result["status"] == "succeeded", result["error"]
