"""A run's error says where it comes from: the case, `if` or `while` whose expression
raised, and a block read by a join that was skipped (real runs, embedded PostgreSQL)."""

from __future__ import annotations

import pytest

ROUTE = """
name: cases_raise
blocks:
  start: {type: manual}
  c:
    type: condition
    cases:
      - {name: small, if: "<start.n> == 1"}
      - {name: ratio, if: "1 / <start.n> > 0.1"}
      - {name: field, if: "<start.nope> == 1"}
  small: {type: function, isolation: inline, code: "return 1"}
edges: [start -> c, c.small -> small]
"""


@pytest.mark.parametrize(
    ("n", "kind", "message"),
    [
        (0, "ZeroDivisionError", "case 'ratio': division by zero"),
        (
            20,
            "MissingReference",
            "case 'field': reference <start.nope> has no field 'nope' in <start>",
        ),
    ],
)
async def test_a_case_that_raises_is_named(run_yaml, n: float, kind: str, message: str) -> None:
    """It said {"type": "ZeroDivisionError", "message": "division by zero"}: which case?"""
    result = await run_yaml(ROUTE, {"n": n})
    assert result["status"] == "failed"
    assert result["error"] == {"type": kind, "message": message, "block": "c"}
    assert result["blocks"]["c"]["attempts"] == 1


async def test_a_missing_reference_in_a_case_is_not_retried(run_yaml) -> None:
    result = await run_yaml(
        ROUTE.replace("type: condition", "type: condition\n    retries: 2\n    retry_backoff: 0"),
        {"n": 20},
    )
    assert result["blocks"]["c"]["attempts"] == 1, result["blocks"]["c"]


#: Each block's expression raises; `on_error: continue` lets the run show them all.
IF_AND_WHILE = """
name: if_while_raise
blocks:
  start: {type: manual}
  ratio: {type: condition, on_error: continue, if: "<start.a> / <start.b> > 1"}
  text: {type: function, isolation: inline, code: "return {'s': 'x'}"}
  sum: {type: condition, on_error: continue, if: "<text.s> + 1"}
  field: {type: condition, on_error: continue, if: "<start.nope> == 1"}
  count:
    type: loop
    on_error: continue
    while: "<state> + 1 < 3"
    body: [step]
    accumulate: {initial: "s", next: <step.result>}
  step: {type: function, isolation: inline, code: "return 1"}
edges: [start -> ratio, start -> text, text -> sum, start -> field, start -> count]
"""


async def test_a_failing_if_or_while_names_its_expression(run_yaml) -> None:
    """It said only "division by zero", or the TypeError's words: which expression?"""
    result = await run_yaml(IF_AND_WHILE, {"a": 1, "b": 0})
    errors = {b: result["blocks"][b]["error"] for b in ("ratio", "sum", "field", "count")}
    assert errors == {
        "ratio": {
            "type": "ZeroDivisionError",
            "message": "if '<start.a> / <start.b> > 1': division by zero",
            "block": "ratio",
        },
        "sum": {
            "type": "TypeError",
            "message": "if '<text.s> + 1': can only concatenate str (not \"int\") to str",
            "block": "sum",
        },
        "field": {
            "type": "MissingReference",
            "message": "if '<start.nope> == 1': reference <start.nope> has no field 'nope' in"
            " <start>",
            "block": "field",
        },
        "count": {
            "type": "TypeError",
            "message": "while '<state> + 1 < 3': can only concatenate str (not \"int\") to str",
            "block": "count",
        },
    }


JOIN = """
name: join_reads_skipped
blocks:
  start: {type: manual}
  route: {type: condition, if: "<start.go>"}
  a3: {type: function, isolation: inline, code: "return {'v': 3}"}
  other: {type: function, isolation: inline, code: "return {'v': 0}"}
  join: {type: function, isolation: inline, code: "return {'v': <a3.v>}"}
  soft: {type: function, isolation: inline, code: "return {'v': <a3.v?>}"}
edges: [start -> route, route.true -> a3, route.false -> other, a3 -> join, other -> join,
        a3 -> soft, other -> soft]
"""


async def test_a_join_reading_a_skipped_block_says_it_was_skipped(run_yaml) -> None:
    """It said "reference <a3.v> names 'a3', which has no value here"."""
    result = await run_yaml(JOIN, {"go": False})
    assert result["status"] == "failed"
    assert result["error"] == {
        "type": "MissingReference",
        "message": "reference <a3.v> names block 'a3', which was skipped in this run (no edge"
        " into it was taken); <a3.v?> reads null when it is",
        "block": "join",
    }
    assert result["blocks"]["soft"]["output"] == {"v": None}


async def test_a_skipped_body_block_read_by_accumulate_next_keeps_the_state(run_yaml) -> None:
    """It failed the loop saying the block was skipped (and `?` made the state null);
    a skipped step now leaves the state as it was (docs/blocks/control.md)."""
    wf = """
    name: next_reads_skipped
    blocks:
      start: {type: manual}
      each:
        type: loop
        items: [1, 2]
        body: [check, add]
        accumulate: {initial: 0, next: <add.total>}
      check: {type: condition, if: "<item> == 1"}
      add: {type: function, isolation: inline, code: "return {'total': <state> + <item>}"}
    edges: [start -> each, check.true -> add]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["each"]["output"]["state"] == 1
