"""An expression nested deeper than the evaluator can go (a condition summing the
outputs of a fan-out, `<f0.n> + <f1.n> + … > 0`, is a level per `+`) is refused by
validation, naming the block, the field and what to write instead. ~300 levels
validated and then failed every run with a RecursionError; ~1,000 was
"invalid config: maximum recursion depth exceeded". Up to the limit (200) it
runs, also inside a loop; `sum([...])` over a list is not nested and has no such
limit.

Real engine runs on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workflow_problems import problems

MAX_EXPRESSION_DEPTH = 200  # engine/expression_rules.py


def _sum(n: int) -> str:
    return " + ".join(f"<start.v{i}>" for i in range(n))


def _condition(expression: str) -> str:
    return json.dumps(
        {
            "name": "deep_expression",
            "blocks": {"start": {"type": "manual"}, "c": {"type": "condition", "if": expression}},
            "edges": ["start -> c"],
        }
    )


@pytest.mark.parametrize("terms", [300, 2000])
def test_an_expression_nested_too_deep_is_refused_at_validation(tmp_path: Path, terms: int) -> None:
    found = problems(tmp_path, _condition(f"{_sum(terms)} > 0"), "deep.json")
    assert len(found) == 1, found
    assert "block 'c': field 'if': bad expression" in found[0], found
    assert f"nested more than {MAX_EXPRESSION_DEPTH} levels deep" in found[0], found


async def test_an_expression_up_to_the_limit_runs_inside_a_loop(run_yaml) -> None:
    terms = MAX_EXPRESSION_DEPTH - 10
    listed = ", ".join(f"<start.v{i}>" for i in range(600))
    result = await run_yaml(
        f"""
        name: deep_expression_runs
        blocks:
          start: {{type: manual}}
          lp:
            type: loop
            count: 2
            body: [c, d]
          c:
            type: condition
            if: {json.dumps(_sum(terms) + f" == {terms}")}
          d:
            type: condition
            if: {json.dumps(f"sum([{listed}]) == 600")}
        edges: [start -> lp, c.true -> d]
        output: <lp.results>
        """,
        {f"v{i}": 1 for i in range(600)},
    )
    assert result["status"] == "succeeded", result["error"]
    assert [r["branch"] for r in result["output"]] == ["true", "true"]
