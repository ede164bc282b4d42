"""A misspelt field read in a run (`input.start.nmae` in Function code, `<start.nmae>`
in a field) is named with the field meant, as validation names a misspelt key: the
message listed the fields (or none) and left the user to spot the typo (real runs,
embedded PostgreSQL)."""

from __future__ import annotations

import pytest

FLOW = """
name: misspelt_fields
blocks:
  start: {type: manual}
  f:
    type: function
    isolation: ISOLATION
    on_error: continue
    code: |
      return input.start.nmae
  g: {type: function, isolation: inline, on_error: continue, code: "return <start.nmae>"}
  h: {type: function, isolation: inline, on_error: continue, code: "return <start.zzz>"}
edges: [start -> f, start -> g, start -> h]
"""


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_a_misspelt_field_is_named_with_the_one_meant(run_yaml, isolation: str) -> None:
    result = await run_yaml(FLOW.replace("ISOLATION", isolation), {"name": "x", "n": 1})
    errors = {b: result["blocks"][b]["output"]["error"]["message"] for b in ("f", "g", "h")}
    assert errors == {
        "f": "no field 'nmae' in input.start (fields: name, n); did you mean 'name'? (line 1)",
        "g": "reference <start.nmae> has no field 'nmae' in <start>; did you mean 'name'?",
        "h": "reference <start.zzz> has no field 'zzz' in <start>",
    }
