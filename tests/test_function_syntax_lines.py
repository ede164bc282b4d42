"""A syntax error in a Python Function's code names the line as written and what
Python says of it, found at validation by the same compile the run makes. Code
indented as a whole (a JSON string, an editor paste) was checked with a line of
flowyard's own added after it, and was refused as "Python syntax error on line 4:
unindent does not match any outer indentation level" for three lines of code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workflow_problems import problems


def _workflow(code: str) -> str:
    return json.dumps(
        {
            "name": "syntax_lines",
            "blocks": {"start": {"type": "manual"}, "f": {"type": "function", "code": code}},
            "edges": ["start -> f"],
        }
    )


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("  s = 1\n\n  raise ValueError('no')", "Python syntax error on line 1: unexpected indent"),
        (
            "x = 1\nif x:\nreturn x",
            "Python syntax error on line 3: expected an indented block after 'if' statement on line 2",
        ),
        ("x = '''a\nb'''\ny = (\n", "Python syntax error on line 3: '(' was never closed"),
        ("x = 1\nreturn x +", "Python syntax error on line 2: invalid syntax"),
    ],
)
def test_a_syntax_error_names_the_line_as_written(tmp_path: Path, code: str, says: str) -> None:
    found = problems(tmp_path, _workflow(code), "bad.json")
    assert len(found) == 1, found
    assert found[0].endswith(f"block 'f': field 'code': {says}"), found
