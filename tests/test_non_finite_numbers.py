"""NaN and ±Infinity have no JSON form: a run's outputs hold null for a value a peer
or the database gave, the same in the result its caller gets (`run --json`, a sync
webhook) as in its record (real embedded PostgreSQL, the real Function worker pool).
A Function that returns one fails instead, naming where (tests/test_function_values.py),
and so does a condition whose expression gives one (or a set, a dict view, a function):
the expression that made it is the user's to fix. A workflow constant cannot be one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from workflow_problems import problems

from blocks.http import parse_body
from engine.runtime import Runtime

WORKFLOW = """
name: non_finite
blocks:
  start: {type: manual}
  d: {type: database, query: "SELECT 'NaN'::float8 AS nan, 'Infinity'::float8 AS inf, 1.5::float8 AS ok"}
  both:
    type: function
    code: 'return {"d": <d.row>}'
edges: [start -> d, d -> both]
"""


async def test_non_finite_numbers_are_null_for_the_caller_and_in_the_record(
    run_yaml, runtime: Runtime
) -> None:
    result = await run_yaml(WORKFLOW)
    assert result["status"] == "succeeded", result["error"]
    expected = {"d": {"nan": None, "inf": None, "ok": 1.5}}
    assert result["output"] == expected
    json.dumps(result, allow_nan=False)  # what the caller gets is strict JSON
    stored = await runtime.run_result(result["execution_id"])
    assert stored["output"] == expected


def test_a_peer_answering_nan_reads_as_null() -> None:
    response = httpx.Response(
        200,
        headers={"content-type": "application/json"},
        text='{"a": NaN, "b": [Infinity, 2], "c": 1e999, "d": -1e999, "e": 1.5}',
    )
    assert parse_body(response) == {"a": None, "b": [None, 2], "c": None, "d": None, "e": 1.5}


#: A condition's `value` is what its expression gave: the run's output here, so the
#: result its caller waited for is what `flowyard run --json` and `?wait=1` print.
CONDITION = """
name: condition_value
blocks:
  start: {type: manual}
  c: {type: condition, %s}
edges: [start -> c]
output: <c.value>
"""


@pytest.mark.parametrize(
    ("expression", "kind", "message"),
    [
        (
            'if: "<start.f> * 10"',
            "ValueError",
            "if '<start.f> * 10': its value is inf, which JSON has no number for",
        ),
        (
            "cases: [{name: low, if: '<start.f> * -10'}]",
            "ValueError",
            "case 'low': its value is -inf, which JSON has no number for",
        ),
        (
            "if: \"{'k': <start.f>}.keys()\"",
            "TypeError",
            "if \"{'k': <start.f>}.keys()\": its value is an object of type dict_keys",
        ),
        ("if: max", "TypeError", "if 'max': its value is an object of type builtin_function"),
        (
            "if: '[1, {2, 3}]'",
            "TypeError",
            "if '[1, {2, 3}]': field 1 of its value is a set ({2, 3})",
        ),
    ],
)
async def test_a_condition_value_json_has_no_form_for_fails_the_block_naming_it(
    run_yaml, runtime: Runtime, expression: str, kind: str, message: str
) -> None:
    # Was: succeeded, the caller given `"value": Infinity` (not JSON) or Python's text
    # of the value ("dict_keys(['k'])"), the record null or that text.
    result = await run_yaml(CONDITION % expression, {"f": 1e308})
    assert result["status"] == "failed", result
    assert result["error"]["type"] == kind
    assert result["error"]["block"] == "c"
    assert result["error"]["message"].startswith(message), result["error"]
    json.dumps(result, allow_nan=False)  # what the caller gets is strict JSON
    stored = await runtime.run_result(result["execution_id"])
    assert stored["error"] == result["error"]
    assert stored["blocks"]["c"]["error"] == result["blocks"]["c"]["error"]


async def test_a_condition_value_is_the_json_a_function_would_give(
    run_yaml, runtime: Runtime
) -> None:
    # A tuple is a list and a key is text, in the caller's result as in the record.
    result = await run_yaml(CONDITION % 'if: "(1, {2: (<start.f>,)})"', {"f": 1.5})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == [1, {"2": [1.5]}]
    assert result["blocks"]["c"]["output"] == {"branch": "true", "value": [1, {"2": [1.5]}]}
    stored = await runtime.run_result(result["execution_id"])
    assert stored["output"] == result["output"]
    assert stored["blocks"]["c"]["output"] == result["blocks"]["c"]["output"]


@pytest.mark.parametrize("number", [".inf", "-.Inf", ".nan", "1e999"])
def test_a_yaml_constant_json_has_no_number_for_is_refused(tmp_path: Path, number: str) -> None:
    # Was: `output: {a: .inf}` and `accumulate: {initial: .inf}` ran, the caller got
    # `Infinity` (not JSON) and the record null.
    found = problems(
        tmp_path,
        "name: t\nblocks:\n  start: {type: manual}\n"
        f"  l: {{type: loop, count: 0, body: [x], accumulate: {{initial: {number}, next: <x.result>}}}}\n"
        "  x: {type: function, code: 'return 1'}\n"
        f"edges: [start -> l]\noutput: {{a: {number}, s: <l.state>}}\n",
    )
    assert len(found) == 2, found
    assert f"block 'l': field 'accumulate.initial': {number} (line 4) is" in found[1], found
    assert f"field 'output.a': {number} (line 7) is" in found[0], found
