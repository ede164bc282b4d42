"""`items: " <start.xs> "` (blanks around one reference) passed validation, which
takes it for the one reference it is, but the run compiled it as text, the list's
JSON, and every run failed: "loop `items` must be a list, a mapping or null, got
str". Both now read it as the reference."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

Run = Callable[..., Awaitable[dict[str, Any]]]


@pytest.mark.parametrize(
    ("container", "field"),
    [
        ("loop", "items: ' <start.xs> '"),
        ("parallel", "items: ' <start.xs>'"),
    ],
)
async def test_blanks_around_a_one_reference_field_are_not_text(
    run_yaml: Run, container: str, field: str
) -> None:
    # Validation takes ` <start.xs> ` as one reference; the run read it as text, the
    # list's JSON, and failed every run: "`items` must be a list, … got str".
    wf = f"""
    name: blanks
    blocks:
      start: {{type: manual}}
      each: {{type: {container}, {field}, body: [f]}}
      f: {{type: function, code: 'return 1'}}
    edges: [start -> each]
    output: <each.results>
    """
    result = await run_yaml(wf, {"xs": [1, 2, 3]})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == [{"result": 1}] * 3
