"""The text of a Python Function's code is run as written: a string literal spanning
lines keeps its lines as they are. The code was indented as a whole to make it a
function's body, so each continuation line of a triple-quoted string gained four
spaces: a message, a SQL text or a payload to sign came out different from what the
author wrote. An error still names the line of the code as written.

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import json

import pytest

ISOLATIONS = pytest.mark.parametrize("isolation", ["process", "inline"])


async def _run(run_yaml, isolation: str, code: str) -> dict:
    # JSON: the code exactly as given, whatever its indentation.
    return await run_yaml(
        json.dumps(
            {
                "name": f"text_{isolation}",
                "blocks": {
                    "start": {"type": "manual"},
                    "f": {"type": "function", "isolation": isolation, "code": code},
                },
                "edges": ["start -> f"],
            }
        )
    )


@ISOLATIONS
async def test_a_string_spanning_lines_keeps_its_text(run_yaml, isolation: str) -> None:
    code = (
        'body = """Dear customer,\n'
        "your order shipped.\n"
        '  -- the team"""\n'
        "sql = '''\n"
        "select 1\n"
        "'''\n"
        "if True:\n"
        "    nested = '''a\n"
        "b'''\n"
        "return {'body': body, 'sql': sql, 'nested': nested}"
    )
    result = await _run(run_yaml, isolation, code)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {
        "body": "Dear customer,\nyour order shipped.\n  -- the team",
        "sql": "\nselect 1\n",
        "nested": "a\nb",
    }


@ISOLATIONS
async def test_an_error_names_the_line_as_written(run_yaml, isolation: str) -> None:
    failed = await _run(run_yaml, isolation, "s = '''a\nb'''\n\nraise ValueError(s)")
    assert failed["error"]["message"] == "a\nb (line 4)"
    failed = await _run(run_yaml, isolation, "def g():\n    return 1 / 0\n\nreturn g()")
    assert failed["error"]["message"] == "division by zero (line 2)"
