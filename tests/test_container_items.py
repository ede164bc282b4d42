"""A loop and a parallel iterate `items` alike: a list as it is, a mapping as its
`{key, value}` pairs in order, null as no items. A parallel refused a mapping that a
loop over the same value iterated (real runs, embedded PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

CONTAINERS = pytest.mark.parametrize("kind", ["loop", "parallel"])


def _workflow(kind: str) -> str:
    return f"""
    name: items_{kind}
    blocks:
      start: {{type: manual}}
      each: {{type: {kind}, items: <start.items>, as: pair, body: [show]}}
      show: {{type: function, isolation: inline, code: "return {{'pair': <pair>, 'i': <loop.index>}}"}}
    edges: [start -> each]
    output: <each.results>
    """


@CONTAINERS
async def test_a_mapping_is_its_key_value_pairs_in_order(run_yaml, kind: str) -> None:
    result = await run_yaml(_workflow(kind), {"items": {"b": 2, "a": {"x": 1}, "c": None}})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == [
        {"pair": {"key": "b", "value": 2}, "i": 0},
        {"pair": {"key": "a", "value": {"x": 1}}, "i": 1},
        {"pair": {"key": "c", "value": None}, "i": 2},
    ]


@CONTAINERS
async def test_null_items_run_no_iteration(run_yaml, kind: str) -> None:
    result = await run_yaml(_workflow(kind), {"items": None})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == []


@CONTAINERS
@pytest.mark.parametrize(
    ("value", "kind_name"),
    [
        ("abc", "text"),
        (0, "a number"),
        (False, "a boolean"),
        (
            ' ["a", "b"]',
            "text: JSON text is not parsed; return json.loads(…) of it from a Function block",
        ),
    ],
)
async def test_other_items_fail_the_block_naming_what_they_are(
    run_yaml, kind: str, value: object, kind_name: str
) -> None:
    """A parallel read a falsy value (0, "", false) as no items: `items or []`. What
    it got was said as Python's type name (`got str`)."""
    result = await run_yaml(_workflow(kind), {"items": value})
    assert result["status"] == "failed"
    assert result["error"]["message"] == (
        f"{kind} `items` must be a list, a mapping or null, got {kind_name}"
    ), result["error"]


def test_written_items_that_can_never_run_are_refused_at_validation(tmp_path: Path) -> None:
    """`items: 0`, `items: "abc"`, `items: false` validated ok, then failed every run."""

    text = (
        "name: t\nblocks:\n  start: {type: manual}\n"
        "  a: {type: loop, items: 0, body: [f]}\n  f: {type: function, code: 'return 1'}\n"
        "  p: {type: parallel, items: abc, body: [g]}\n  g: {type: function, code: 'return 1'}\n"
        "  q: {type: loop, items: '<start.xs>', body: [h]}\n  h: {type: function, code: 'return 1'}\n"
        "edges: [start -> a, start -> p, start -> q]\n"
    )
    found = [p.split(": ", 1)[1] for p in problems(tmp_path, text)]
    assert found == [
        "block 'a': field 'items': `items` is a list, a mapping or one reference, not 0",
        "block 'p': field 'items': `items` is a list, a mapping or one reference, not \"abc\"",
    ]
