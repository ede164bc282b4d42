"""Database block: a quoted reference `'<ref>'` where nothing in the statement types it
(`jsonb_build_object('k', '<ref>')`, `concat`, `format`, `IS NULL`) runs as the
literal did, read as text (SPEC, "References": seed-style SQL runs unchanged)."""

from __future__ import annotations

import json
from typing import Any

import pytest


def workflow(*queries: str, transaction: str | None = None) -> str:
    group = f", transaction: {transaction}" if transaction else ""
    blocks = "\n".join(
        f"  q{i}: {{type: database, query: {json.dumps(q)}{group}}}" for i, q in enumerate(queries)
    )
    edges = ["start -> q0"] + [f"q{i} -> q{i + 1}" for i in range(len(queries) - 1)]
    return (
        "name: untyped_literals\nblocks:\n  start: {type: manual}\n"
        + blocks
        + "\nedges: ["
        + ", ".join(edges)
        + "]\n"
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "SELECT jsonb_build_object('order_id', '<start.id>', 'n', '<start.n>') AS out",
            {"order_id": "ord-1", "n": "5"},
        ),
        ("SELECT json_build_object('k', '<start.id>')::jsonb AS out", {"k": "ord-1"}),
        ("SELECT concat('<start.id>', '/', '<start.n>') AS out", "ord-1/5"),
        ("SELECT format('%s-%s', '<start.id>', '<start.n>') AS out", "ord-1-5"),
        ("SELECT '<start.id>' IS NULL AS out", False),
        ("SELECT length('<start.id>') AS out", 5),
    ],
)
async def test_a_quoted_reference_without_a_type_reads_as_the_literal(
    run_yaml: Any, query: str, expected: Any
) -> None:
    """These failed with "could not determine data type of parameter $1 (<start.id>):
    give it a type with a cast", where the literals they stand for ran."""
    result = await run_yaml(workflow(query), {"id": "ord-1", "n": 5})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["out"] == expected
    # Again, from what the block learnt the first time.
    again = await run_yaml(workflow(query), {"id": "ord-1", "n": 5})
    assert again["output"]["out"] == expected


async def test_in_a_transaction_group_the_group_goes_on_and_commits(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    """Inside a transaction the refused statement would abort the group's transaction:
    the statement is found out under a savepoint."""
    await pg.execute(f"CREATE TABLE {table_name} (doc jsonb)")
    result = await run_yaml(
        workflow(
            f"INSERT INTO {table_name} VALUES (jsonb_build_object('id', '<start.id>')) "
            "RETURNING doc",
            f"INSERT INTO {table_name} VALUES ('<start.doc>') RETURNING doc",
            transaction="g",
        ),
        {"id": "ord-1", "doc": {"a": 1}},
    )
    assert result["status"] == "succeeded", result["error"]
    rows = await pg.fetch(f"SELECT doc::text AS doc FROM {table_name} ORDER BY doc::text")
    assert [json.loads(r["doc"]) for r in rows] == [{"a": 1}, {"id": "ord-1"}]


async def test_a_bare_reference_still_asks_for_a_cast(run_yaml: Any) -> None:
    """`<ref>` outside quotes is no literal: nothing says it is text."""
    result = await run_yaml(
        workflow("SELECT jsonb_build_object('k', <start.id>) AS out"), {"id": 1}
    )
    assert result["status"] == "failed"
    assert "give it a type with a cast" in result["error"]["message"]
