"""Database block: JSON lists bound as PostgreSQL arrays, and parameter values kept
out of block errors (asyncpg's own refusals quoted them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

EMAILS = ["alice@example.com", "bob@example.com"]


def workflow(query: str, params: Any = None) -> str:
    extra = f"\n            params: {json.dumps(params)}" if params is not None else ""
    return f"""
        name: arrays
        blocks:
          start: {{type: manual}}
          d:
            type: database
            query: {json.dumps(query)}{extra}
        edges: [start -> d]
        """


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("SELECT n FROM {t} WHERE n = ANY(:ids) ORDER BY n", {"ids": "<start.ids>"}),
        ("SELECT n FROM {t} WHERE n = ANY(<start.ids>) ORDER BY n", None),
        ("SELECT n FROM {t} WHERE n = ANY('<start.ids>') ORDER BY n", None),
        ("SELECT n FROM {t} WHERE n = ANY('<start.ids>'::int[]) ORDER BY n", None),
        ("SELECT n FROM {t} WHERE n = ANY(:ids::bigint[]) ORDER BY n", {"ids": "<start.ids>"}),
        ("SELECT n FROM {t} WHERE n = ANY($1::int[]) ORDER BY n", ["<start.ids>"]),
        ("SELECT n FROM {t} WHERE n <> ALL(<start.others>) ORDER BY n", None),
        # A string holding a JSON list, and PostgreSQL's own array literal.
        ("SELECT n FROM {t} WHERE n = ANY('<start.ids_json>') ORDER BY n", None),
        ("SELECT n FROM {t} WHERE n = ANY('<start.ids_literal>'::int[]) ORDER BY n", None),
    ],
)
async def test_a_list_binds_as_an_array(
    run_yaml: Any, pg: Any, table_name: str, query: str, params: Any
) -> None:
    """A list used to be bound as its JSON text: "invalid input for query argument
    $1: '[1,3]' (a sized iterable container expected (got type 'str'))"."""
    await pg.execute(f"CREATE TABLE {table_name} AS SELECT generate_series(1, 4) AS n")
    result = await run_yaml(
        workflow(query.format(t=table_name), params),
        {"ids": [1, 3], "others": [2, 4], "ids_json": "[1, 3]", "ids_literal": "{1,3}"},
    )
    assert result["status"] == "succeeded", result["error"]
    assert [r["n"] for r in result["output"]["rows"]] == [1, 3]


async def test_lists_of_text_and_of_lists(run_yaml: Any, pg: Any, table_name: str) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (email text, tags text[])")
    await pg.execute(
        f"INSERT INTO {table_name} VALUES ('alice@example.com', '{{a}}'), ('x@y', '{{}}')"
    )
    result = await run_yaml(
        workflow(
            f"SELECT email, '<start.grid>'::int[] AS grid, cardinality(:none::text[]) AS none "
            f"FROM {table_name} WHERE email = ANY(:emails) AND tags = '<start.tags>' "
            "AND email = ANY('<start.emails>'::text[])",
            {"emails": "<start.emails>", "none": []},
        ),
        {"emails": EMAILS, "tags": ["a"], "grid": [[1, 2], [3, 4]]},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["rows"] == [
        {"email": "alice@example.com", "grid": [[1, 2], [3, 4]], "none": 0}
    ]


async def test_a_list_where_one_value_is_expected_names_the_parameter_only(
    run_yaml: Any,
) -> None:
    result = await run_yaml(
        workflow("SELECT 1 WHERE 1 = :ids", {"ids": "<start.emails>"}), {"emails": EMAILS}
    )
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert message.startswith("parameter $1 (:ids) is a list that cannot be used as int4")
    assert "= ANY(<ref>)" in message and "example.com" not in message


@pytest.mark.parametrize(
    ("query", "value"),
    [
        # asyncpg's codecs refused these with the value in the message:
        # "invalid input for query argument $1: {'owner': 'alice@example.com'} (…)".
        ("SELECT '<start.v>'::point AS p", {"owner": "alice@example.com"}),
        ("SELECT '<start.v>'::int4range AS r", {"owner": "alice@example.com"}),
        ("SELECT '<start.v>'::tid AS r", {"owner": "alice@example.com"}),
    ],
)
async def test_asyncpg_refusing_a_value_does_not_quote_it(
    run_yaml: Any, query: str, value: Any
) -> None:
    result = await run_yaml(workflow(query), {"v": value})
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "alice" not in message and "owner" not in message, message
    assert message.startswith("parameter $1 (<start.v>) is a dict that cannot be used as")


@pytest.mark.parametrize(
    "tiers",
    [
        ["gold", "alice@example.com"],
        '["gold", "alice@example.com"]',  # a string holding a JSON list
        '{gold,"alice@example.com"}',  # PostgreSQL's array literal
    ],
)
async def test_an_array_element_the_server_refuses_is_not_quoted(
    run_yaml: Any, pg: Any, table_name: str, tiers: Any
) -> None:
    """The server quotes the element it refuses: `invalid input value for enum …:
    "alice@example.com"`; only whole values used to be scrubbed."""
    await pg.execute(f"CREATE TYPE {table_name} AS ENUM ('gold', 'silver')")
    result = await run_yaml(
        workflow(f"SELECT '<start.tiers>'::{table_name}[] AS tiers"), {"tiers": tiers}
    )
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "invalid input value for enum" in message and "alice" not in message, message
