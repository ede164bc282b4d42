"""What a Python Function is given: its own objects, with Python's semantics. A read
returns the same object every time, so a change to a nested value is seen by later
reads and by the returned value; and no change reaches another block's recorded
output or the engine's values (inline code shares the engine's process).

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import pytest

from engine.runtime import Runtime

ISOLATIONS = pytest.mark.parametrize("isolation", ["process", "inline"])


@ISOLATIONS
async def test_a_fold_that_appends_to_its_state_keeps_what_it_appended(
    run_yaml, isolation: str
) -> None:
    """Each read of `s["seen"]` built a new list, so the append was lost: {seen: [], n: 3}."""
    wf = f"""
    name: fold_{isolation}
    blocks:
      start: {{type: manual}}
      each:
        type: loop
        items: [a, b, c]
        body: [add]
        accumulate: {{initial: {{seen: [], n: 0}}, next: <add.state>}}
      add:
        type: function
        isolation: {isolation}
        code: |
          s = <state>
          s["seen"].append(<item>)
          s["n"] += 1
          return {{"state": s}}
    output: <each.state>
    edges: [start -> each]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"seen": ["a", "b", "c"], "n": 3}


CHANGES = """
name: changes_{isolation}
blocks:
  start: {{type: manual}}
  change:
    type: function
    isolation: {isolation}
    code: |
      d = <start.d>
      d["lst"].append(4)
      d["sub"]["k"] = "new"
      x = d["lst"]
      x.append(5)
      b = input.start
      b.rows.append({{"r": 2}})
      b.meta.owner = "me"
      b.meta.gone = 1
      del b.meta.gone
      return {{"d": d, "again": <start.d>, "same": d is <start.d> and x is d["lst"],
              "rows": b.rows, "meta": input.start.meta, "copy": b.meta.copy().owner}}
  # Reads start's output after `change` changed its copy of it: unchanged here.
  after:
    type: function
    isolation: {isolation}
    code: |
      return {{"start": <start>, "input": input.start}}
edges: [start -> change, change -> after]
"""


@ISOLATIONS
async def test_changes_to_nested_input_values_are_seen_but_stay_in_the_call(
    run_yaml, runtime: Runtime, isolation: str
) -> None:
    given = {"d": {"lst": [1], "sub": {"k": "old"}}, "rows": [{"r": 1}], "meta": {}}
    result = await run_yaml(CHANGES.format(isolation=isolation), given)
    assert result["status"] == "succeeded", result["error"]
    changed = {"lst": [1, 4, 5], "sub": {"k": "new"}}
    assert result["blocks"]["change"]["output"] == {
        "d": changed,
        "again": changed,
        "same": True,
        "rows": [{"r": 1}, {"r": 2}],
        "meta": {"owner": "me"},  # set by attribute (b.meta is input.start.meta)
        "copy": "me",
    }
    # Another block's recorded output, and what a later block reads of it, are as given.
    assert result["blocks"]["after"]["output"] == {"start": given, "input": given}
    assert result["blocks"]["start"]["output"] == given
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["start"]["output"] == given
    assert stored["blocks"]["after"]["output"] == {"start": given, "input": given}


@ISOLATIONS
@pytest.mark.parametrize("code", ["return input.start.owner", "del input.start.owner"])
async def test_a_missing_field_read_or_deleted_by_attribute_is_named(
    run_yaml, isolation: str, code: str
) -> None:
    wf = f"""
    name: missing_field_{isolation}
    blocks:
      start: {{type: manual}}
      f: {{type: function, isolation: {isolation}, code: "{code}"}}
    edges: [start -> f]
    """
    result = await run_yaml(wf, {"id": 1, "name": "x"})
    error = result["blocks"]["f"]["error"]
    assert error["type"] == "AttributeError"
    assert error["message"] == "no field 'owner' (fields: id, name) (line 1)"
