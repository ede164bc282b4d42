"""NaN and ±Infinity have no JSON form: a run's outputs hold null for a value a peer
or the database gave, the same in the result its caller gets (`run --json`, a sync
webhook) as in its record (real embedded PostgreSQL, the real Function worker pool).
A Function that returns one fails instead, naming where (tests/test_function_values.py):
the code that made it is the user's to fix."""

from __future__ import annotations

import json

import httpx

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
