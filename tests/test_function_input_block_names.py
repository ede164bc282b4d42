"""A Function's `input` holds the run input's fields and the outputs of the blocks
upstream. A block that did not run for it (skipped behind an untaken branch, or not
upstream) is absent — and was filled from the run input's field of that name: an
API caller sending `{"approve": {"approved": true}}` stood in for an approval block
that never ran, while `<approve.approved?>` read null."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

#: The caller's stand-in for the approval block's output.
FORGED = {"pay": False, "approve": {"approved": True, "amount": 1000000}, "note": "hi"}

PYTHON = """\
return {
    "has": hasattr(input, "approve"),
    "in": "approve" in input,
    "sibling": "audit" in input,
    "note": input.note,
    "keys": sorted(input),
    "field": <input.approve.amount>,
}"""
JAVASCRIPT = """\
return {
  has: input.approve !== undefined,
  in: "approve" in input,
  sibling: "audit" in input,
  note: input.note,
  keys: Object.keys(input).sort(),
  field: <input.approve.amount>,
};"""

#: `approve` is behind `route.true`; `audit` runs beside `check`, not before it.
GUARDED = """
name: guarded_{language}_{isolation}
blocks:
  start: {{type: manual}}
  route: {{type: condition, if: "<start.pay>"}}
  approve: {{type: function, isolation: inline, code: "return {{'approved': False}}"}}
  audit: {{type: function, isolation: inline, code: "return {{'audit': 1}}"}}
  check:
    type: function
    language: {language}
    isolation: {isolation}
    code: {code}
edges: [start -> route, start -> audit, route.true -> approve, route.false -> check,
        approve -> check]
"""

WAYS = [("python", "process"), ("python", "inline"), ("javascript", "process")]


@pytest.mark.parametrize(("language", "isolation"), WAYS)
async def test_a_block_that_did_not_run_is_not_read_from_the_run_input(
    run_yaml: Callable[..., Awaitable[dict[str, Any]]], language: str, isolation: str
) -> None:
    code = PYTHON if language == "python" else JAVASCRIPT
    wf = GUARDED.format(language=language, isolation=isolation, code=json.dumps(code))
    result = await run_yaml(wf, {**FORGED, "audit": "forged"})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["approve"]["status"] == "skipped"
    output = result["blocks"]["check"]["output"]
    # Absent, as a skipped block is when no input field is named like it.
    assert output["has"] is False and output["in"] is False
    assert output["sibling"] is False  # not upstream: absent too
    assert output["note"] == "hi"  # the run input's other fields are all there
    assert output["keys"] == ["note", "pay", "route", "start"]
    assert output["field"] == 1000000  # read as the run input's, it is there


async def test_reading_a_block_that_did_not_run_by_name_fails_as_without_the_field(
    run_yaml: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    """`input.approve` alone (only the fields read cross to the worker)."""
    wf = GUARDED.format(
        language="python", isolation="process", code=json.dumps("return input.approve.amount")
    )
    result = await run_yaml(wf, FORGED)
    assert result["status"] == "failed" and result["error"]["block"] == "check"
    assert result["error"]["type"] == "AttributeError"
    assert "no field 'approve'" in result["error"]["message"]
