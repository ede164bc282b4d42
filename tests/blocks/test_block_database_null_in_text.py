"""Database block: a reference inside a longer literal (`'order-<f.id?>'`) renders a
null as nothing, as a reference inside any longer text does (docs/engine.md,
"References"). It ran as `('order-' || $1::text)`, and SQL's `||` made the whole text
NULL: `'Refund for <start.reason?>'` stored a NULL description, silently, where every
other field of the workflow would have sent `Refund for `. A whole literal
(`'<f.id>'`) is still the value itself, null as NULL, and a typed literal
(`interval '<f.n?> days'`) still NULL."""

from __future__ import annotations

from typing import Any

import pytest

from engine.sql_references import rewrite_sql


def workflow(query: str) -> str:
    return f"""
    name: null_in_text
    blocks:
      start: {{type: manual}}
      q: {{type: database, query: "{query}"}}
    edges: [start -> q]
    output: <q.row>
    """


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT 'order-<start.id?>' AS v", "order-"),
        ("SELECT 'a <start.id?> b <start.n>' AS v", "a  b 3"),
        ("SELECT '<start.id?>' AS v", None),  # the value itself
        ("SELECT '<start.id?>-' IS NULL AS v", False),
        ("SELECT interval '<start.id?> days' AS v", None),  # typed: NULL as before
    ],
)
async def test_a_null_inside_a_longer_literal_is_empty_text(
    run_yaml: Any, query: str, expected: Any
) -> None:
    result = await run_yaml(workflow(query), {"n": 3})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"v": expected}


def test_the_rewritten_form() -> None:
    sql, _ = rewrite_sql("SELECT 'id-<a.x>-end', interval '<a.n> days'")
    assert sql == (
        "SELECT ('id-' || coalesce($1::text, '') || '-end'), ($2::text || ' days')::interval"
    )
