"""What a Python Function is given: its own objects, with Python's semantics. A read
returns the same object every time, so a change to a nested value is seen by later
reads and by the returned value; and no change reaches another block's recorded
output or the engine's values (inline code shares the engine's process).

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import json

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
    assert error["message"] == "no field 'owner' in input.start (fields: id, name) (line 1)"


# -- what a function returns ---------------------------------------------------------------


@ISOLATIONS
async def test_dates_uuids_decimals_and_tuples_have_a_json_form(run_yaml, isolation: str) -> None:
    """They were their str(): `2024-01-01 00:00:00`, not ISO 8601."""
    wf = f"""
    name: json_forms_{isolation}
    blocks:
      start: {{type: manual}}
      f:
        type: function
        isolation: {isolation}
        code: |
          import datetime as dt, uuid
          from decimal import Decimal
          return {{"at": dt.datetime(2024, 1, 1), "utc": dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC),
                  "day": dt.date(2024, 1, 31), "time": dt.time(9, 30), "id": uuid.UUID(int=5),
                  "amounts": [Decimal("12.50"), Decimal("0.1"), Decimal("7"), Decimal("0.1000000000000000001")],
                  "pair": (1, (2, "x"))}}
    edges: [start -> f]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["f"]["output"] == {
        "at": "2024-01-01T00:00:00",
        "utc": "2024-01-01T12:00:00+00:00",
        "day": "2024-01-31",
        "time": "09:30:00",
        "id": "00000000-0000-0000-0000-000000000005",
        "amounts": [12.5, 0.1, 7, "0.1000000000000000001"],  # exact, as the Database block
        "pair": [1, [2, "x"]],
    }


@ISOLATIONS
@pytest.mark.parametrize(
    ("code", "kind", "says"),
    [
        ("return {1, 2}", "TypeError", "field result is a set ({1, 2}): return a list"),
        (
            "return b'abc'",
            "TypeError",
            "field result is bytes (b'abc'): return text, e.g. ….decode()",
        ),
        (
            "return {'a': [1, {'b': float('nan')}]}",
            "ValueError",
            "field a.1.b is nan, which JSON has no number for: return None (null)",
        ),
        ("return {'x': -float('inf')}", "ValueError", "field x is -inf, which JSON has no number"),
        (
            "class Row: pass\nreturn {'r': [Row()]}",
            "TypeError",
            "field r.0 is an object of type Row",
        ),
        (
            "return {(1, 2): 3}",
            "TypeError",
            "the returned value has a key that is a tuple ((1, 2))",
        ),
        ("x = []\nx.append(x)\nreturn {'x': x}", "ValueError", "field x.0 contains itself"),
    ],
)
async def test_a_value_json_has_no_form_for_fails_the_block_naming_it(
    run_yaml, isolation: str, code: str, kind: str, says: str
) -> None:
    """A set, bytes, NaN or ±Infinity, or any other object was converted silently
    ("{1, 2}", "b'abc'", null)."""
    wf = f"""
    name: not_json_{isolation}
    blocks:
      start: {{type: manual}}
      f:
        type: function
        isolation: {isolation}
        code: {json.dumps(code)}
    edges: [start -> f]
    """
    result = await run_yaml(wf)
    assert result["status"] == "failed"
    error = result["blocks"]["f"]["error"]
    assert error["type"] == kind
    assert error["message"].startswith(f"the output is not JSON: {says}"), error["message"]
