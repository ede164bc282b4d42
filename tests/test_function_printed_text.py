"""A Function that printed and returned a `stdout` field of its own: the returned
field is the output (as in Windmill or n8n, the returned value is the result), and
the printed text, which has no place left in it, is not dropped without a word — the
log says so, once per block, by its size (printed text may hold a secret)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from engine.model import Workflow
from engine.runtime import Runtime

CODE = {
    "python": 'print("printed secret-ish text"); return {"stdout": "mine", "n": 1}',
    "javascript": 'console.log("printed secret-ish text"); return {stdout: "mine", n: 1};',
}
PRINTED = "printed secret-ish text"

WORKFLOW = """
name: printed_{suffix}
blocks:
  start: {{type: manual}}
  shell:
    type: function
    language: {language}
    isolation: {isolation}
    code: {code}
  quiet: {{type: function, isolation: inline, code: "return {{'stdout': 'own'}}"}}
edges: [start -> shell, shell -> quiet]
"""

WAYS = [("python", "process"), ("python", "inline"), ("javascript", "process")]


@pytest.mark.parametrize(("language", "isolation"), WAYS)
async def test_printed_text_left_out_for_a_returned_stdout_is_said_in_the_log(
    runtime: Runtime,
    write_workflow: Callable[..., Workflow],
    caplog: pytest.LogCaptureFixture,
    language: str,
    isolation: str,
) -> None:
    caplog.set_level(logging.WARNING, "flowyard.blocks.function")
    wf = write_workflow(
        WORKFLOW.format(
            suffix=f"{language}_{isolation}",
            language=language,
            isolation=isolation,
            code=json.dumps(CODE[language]),
        )
    )
    for _ in range(2):
        result = await runtime.execute(wf, {})
        assert result["status"] == "succeeded", result["error"]
        assert result["blocks"]["shell"]["output"] == {"stdout": "mine", "n": 1}  # as returned
        assert result["blocks"]["quiet"]["output"] == {"stdout": "own"}
    said = [r.getMessage() for r in caplog.records if "not in its output" in r.getMessage()]
    size = len(PRINTED) + (1 if language == "python" else 0)  # print's newline
    assert said == [  # once for the block, not per run; nothing for `quiet`, which printed nothing
        f"block 'shell' of workflow '{wf.name}' printed {size} characters that are not in "
        "its output: it returned a `stdout` field of its own, which is kept as returned "
        "(docs/blocks/function.md, 'Output'); rename that field to see the text"
    ]
    assert PRINTED not in caplog.text  # its size only
