"""Containers nest at most ``MAX_CONTAINER_DEPTH`` deep. Each level of a loop or
parallel body runs inside the one around it, so 200 nested loops validated ok and every
run then failed with "maximum recursion depth exceeded" (real embedded PostgreSQL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from workflow_problems import problems

from engine.validate_graph import MAX_CONTAINER_DEPTH


def nested(depth: int) -> str:
    """A workflow of ``depth`` containers each holding the next (loops and parallels
    in turn), a Function in the innermost."""
    lines = ["name: deep", "blocks:", "  start: {type: manual}"]
    for level in range(1, depth + 1):
        inner = f"c{level + 1}" if level < depth else "f"
        if level % 2:
            lines.append(f"  c{level}: {{type: loop, count: 1, body: [{inner}]}}")
        else:
            lines.append(f"  c{level}: {{type: parallel, items: [{level}], body: [{inner}]}}")
    lines += [
        "  f: {type: function, code: 'return {\"v\": 7}'}",
        "edges: [start -> c1]",
        "output: <c1>",
    ]
    return "\n".join(lines) + "\n"


def test_one_container_too_deep_is_refused_naming_it(tmp_path: Path) -> None:
    found = problems(tmp_path, nested(MAX_CONTAINER_DEPTH + 1))
    depth = MAX_CONTAINER_DEPTH + 1
    assert len(found) == 1, found
    assert f"block 'c{depth}':" in found[0], found
    assert f"{depth} containers deep" in found[0], found
    assert f"at most {MAX_CONTAINER_DEPTH}" in found[0], found


@pytest.mark.parametrize("extra", [1, 170])
def test_only_the_first_level_past_the_limit_is_named(tmp_path: Path, extra: int) -> None:
    # 200 levels are one mistake, not 168 problems.
    found = problems(tmp_path, nested(MAX_CONTAINER_DEPTH + extra))
    assert len(found) == 1, found


async def test_the_deepest_nesting_allowed_runs(
    run_yaml: Callable[..., Awaitable[dict[str, Any]]],
) -> None:
    result = await run_yaml(nested(MAX_CONTAINER_DEPTH))
    assert result["status"] == "succeeded", result.get("error")
    value: Any = result["output"]
    for _ in range(MAX_CONTAINER_DEPTH):
        (value,) = value["results"]
    assert value == {"v": 7}
