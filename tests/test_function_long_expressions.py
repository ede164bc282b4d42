"""A Function joining many upstream blocks in one expression (`return <f0.v> + <f1.v>
+ … + <f599.v>`, the join after a fan-out of 600) is code Python compiles, and is
validated and run as such. Flowyard's own pass over the code's syntax tree recursed
once per level of it, so a sum of ~450 terms made `flowyard validate` a
RecursionError traceback (and a save a 500) for code Python itself accepts. Code
nested deeper than Python itself compiles is refused by validation, naming the
block and field, not a traceback.

Real worker processes and inline calls on the session runtime, embedded PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from workflow_problems import problems

from engine.model import load_text


def _sum_of(n: int) -> str:
    return "return {'s': " + " + ".join(f"<start.v{i}>" for i in range(n)) + "}"


def _workflow(code: str) -> str:
    return json.dumps(
        {
            "name": "long_expressions",
            "blocks": {"start": {"type": "manual"}, "f": {"type": "function", "code": code}},
            "edges": ["start -> f"],
        }
    )


def test_a_sum_of_600_references_validates() -> None:
    workflow = load_text(_workflow(_sum_of(600)), "sum.json")
    assert "f" in workflow.blocks


def test_code_nested_deeper_than_python_compiles_is_a_problem_not_a_traceback(
    tmp_path: Path,
) -> None:
    found = problems(tmp_path, _workflow("return " + " + ".join(["1"] * 5000)), "deep.json")
    assert len(found) == 1, found
    assert "block 'f': field 'code': " in found[0], found
    assert "nested too deeply" in found[0], found


@pytest.mark.parametrize("isolation", ["process", "inline"])
async def test_a_sum_of_600_references_runs(run_yaml, isolation: str) -> None:
    code = _sum_of(600)
    result = await run_yaml(
        f"""
        name: long_sum_{isolation}
        blocks:
          start: {{type: manual}}
          f:
            type: function
            isolation: {isolation}
            code: {json.dumps(code)}
        edges: [start -> f]
        """,
        {f"v{i}": i for i in range(600)},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"s": sum(range(600))}
