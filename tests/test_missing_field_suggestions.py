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


async def test_an_unset_environment_variable_is_said_as_such(run_yaml, monkeypatch) -> None:
    """It said "<env.ORDERS_DB> has no field 'ORDERS_DB' in <env>", as if <env> were a
    block's output."""
    monkeypatch.setenv("ORDER_DB_URL_X", "postgresql://u@h/d")
    result = await run_yaml(
        "name: env_unset\nblocks:\n  start: {type: manual}\n"
        "  f: {type: function, isolation: inline, code: 'return len(<env.ORDERS_DB_URL_X>)'}\n"
        "edges: [start -> f]\n"
    )
    assert result["error"]["message"] == (
        "reference <env.ORDERS_DB_URL_X> is not set: the environment has no variable "
        "'ORDERS_DB_URL_X'; did you mean 'ORDER_DB_URL_X'?"
    )


def test_nothing_is_suggested_among_very_many_names() -> None:
    from engine.suggest import MAX_CHOICES, closest

    assert closest("nmae", ["name", *map(str, range(MAX_CHOICES))]) is None
    assert closest("nmae", ["name", *map(str, range(MAX_CHOICES - 1))]) == "name"
