"""An expression that fails in a run says so in the user's words (real runs, embedded
PostgreSQL). A JavaScript habit (`<start.x>.length`) or a missing field read as an
attribute said "Attribute 'length' does not exist in expression '__ref_0.length >
2'", a name the user never wrote; a missing key read with `[…]` said only `'k'`, a
bare KeyError."""

from __future__ import annotations

import pytest

FLOW = """
name: expression_words
blocks:
  start: {type: manual}
  c: {type: condition, if: "IF"}
edges: [start -> c]
"""


@pytest.mark.parametrize(
    ("expression", "kind", "says"),
    [
        (
            "<start.x>.length > 2",
            "ExpressionError",
            "<start.x> has no field 'length': a list's or text's length is len(<start.x>)",
        ),
        (
            "<start.d>.k == 1",
            "ExpressionError",
            "<start.d> has no field 'k'; for a field that may be missing write <start.d.k?>",
        ),
        (
            "<start.d>['k'] == 1",
            "KeyError",
            "<start.d> has no key 'k'; for a field that may be missing write <start.d.k?>",
        ),
        (
            "{'a': 1}['b'] == 1",
            "KeyError",
            "{'a': 1} has no key 'b'; for a key that may be missing write .get('b')",
        ),
    ],
)
async def test_a_failing_expression_names_what_it_read(
    run_yaml, expression: str, kind: str, says: str
) -> None:
    result = await run_yaml(FLOW.replace("IF", expression), {"x": "abc", "d": {}})
    assert result["status"] == "failed"
    assert result["error"] == {"type": kind, "message": f"if {expression!r}: {says}", "block": "c"}
    assert "__ref_" not in result["error"]["message"]


async def test_a_field_read_as_an_attribute_still_works(run_yaml) -> None:
    result = await run_yaml(FLOW.replace("IF", "<start.d>.k == 1"), {"d": {"k": 1}})
    assert result["status"] == "succeeded"
    assert result["blocks"]["c"]["output"] == {"branch": "true", "value": True}
