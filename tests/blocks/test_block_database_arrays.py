"""Database block: JSON lists bound as PostgreSQL arrays, and parameter values kept
out of block errors (asyncpg's own refusals quoted them)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from blocks._sql_in_lists import in_list_parameters

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


@pytest.mark.parametrize(
    ("query", "params"),
    [
        ("DELETE FROM {t} WHERE id IN (<start.ids>)", None),
        ("DELETE FROM {t} WHERE id IN ('<start.ids>')", None),
        ("DELETE FROM {t} WHERE id IN (:ids)", {"ids": "<start.ids>"}),
        ("DELETE FROM {t} WHERE id IN ($1)", ["<start.ids>"]),
        ("DELETE FROM {t} WHERE id NOT IN ('x', <start.ids>::text)", None),
        ("DELETE FROM {t} WHERE id IN (<start.doc>)", None),
    ],
)
async def test_a_list_in_an_in_list_of_text_is_an_error(
    run_yaml: Any, pg: Any, table_name: str, query: str, params: Any
) -> None:
    """`IN (<input.ids>)` on a text column bound the list as its JSON text
    '["o1","o2"]': the DELETE succeeded, deleting nothing (a row whose id was that
    very text was the one it matched)."""
    await pg.execute(f"CREATE TABLE {table_name} (id text, bal int)")
    await pg.execute(
        f"""INSERT INTO {table_name} VALUES ('o1', 1), ('o2', 2), ('["o1","o2"]', 3)"""
    )
    result = await run_yaml(
        workflow(query.format(t=table_name), params),
        {"ids": ["o1", "o2"], "doc": {"id": "o1"}},
    )
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "in `IN (…)`, which compares with one value; it cannot be used as text" in message
    if "<start.doc>" not in query:
        label = ":ids" if params == {"ids": "<start.ids>"} else "$1" if params else "<start.ids>"
        assert f"write `= ANY({label})`" in message, message
    assert "o1" not in message and "o2" not in message
    assert await pg.fetchval(f"SELECT count(*) FROM {table_name}") == 3


async def test_a_list_in_an_in_list_of_numbers_is_an_error(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} AS SELECT generate_series(1, 4) AS n")
    result = await run_yaml(
        workflow(f"SELECT n FROM {table_name} WHERE n IN (<start.ids>)"), {"ids": [1, 3]}
    )
    assert result["status"] == "failed"
    assert "write `= ANY(<start.ids>)`" in result["error"]["message"]


async def test_lists_and_objects_are_still_json_text_for_text_elsewhere(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    """docs/blocks/database.md: a dict or list bound as `text` is its JSON text;
    only an item of `IN (…)` refuses it. A jsonb item takes it as JSON."""
    await pg.execute(f"CREATE TABLE {table_name} (note text, doc jsonb)")
    await pg.execute(f"""INSERT INTO {table_name} VALUES ('x', '{{"k": 1}}')""")
    result = await run_yaml(
        workflow(
            f"WITH new AS (INSERT INTO {table_name} VALUES ('<start.doc>', NULL), "
            "(<start.ids>, NULL) RETURNING note) "
            f"SELECT array_agg(note ORDER BY note) AS notes, "
            f"(SELECT count(*) FROM {table_name} WHERE doc IN ('<start.doc>'::jsonb, "
            "'{}'::jsonb)) AS matched, "
            f"(SELECT count(*) FROM {table_name} WHERE note IN "
            "(SELECT jsonb_array_elements_text(<start.ids>::jsonb))) AS in_subquery "
            "FROM new"
        ),
        {"doc": {"k": 1}, "ids": ["x", "y"]},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["notes"] == ['["x","y"]', '{"k":1}']
    assert result["output"]["matched"] == 1
    assert result["output"]["in_subquery"] == 1


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("inet", ["10.0.0.1", "10.0.0.2"]),
        ("macaddr", ["08:00:2b:01:02:03"]),
        ("{enum}", ["gold", "silver"]),
        ("inet", {"ip": "10.0.0.1"}),
    ],
)
async def test_a_list_or_object_for_another_scalar_is_an_error(
    run_yaml: Any, pg: Any, table_name: str, column: str, value: Any
) -> None:
    """Bound as its JSON text (an enum, macaddr) or its Python repr (inet), it was
    refused by the server, which quoted it."""
    await pg.execute(f"CREATE TYPE {table_name}_tier AS ENUM ('gold', 'silver')")
    await pg.execute(f"CREATE TABLE {table_name} (v {column.format(enum=table_name + '_tier')})")
    result = await run_yaml(
        workflow(f"SELECT count(*) AS n FROM {table_name} WHERE v = <start.v>"), {"v": value}
    )
    assert result["status"] == "failed"
    message = result["error"]["message"]
    kind = type(value).__name__
    assert message.startswith(f"parameter $1 (<start.v>) is a {kind} that cannot be used as")
    if kind == "list":
        assert "= ANY(<ref>)" in message
    assert "10.0" not in message and "gold" not in message and "08:00" not in message


@pytest.mark.parametrize(
    ("sql", "items"),
    [
        ("DELETE FROM t WHERE id IN ($1)", {1}),
        ("SELECT 1 WHERE id not in('a', $1, $2::varchar(10), ('p-' || $3::text))", {1, 2}),
        ("SELECT 1 WHERE id IN (lower($1), $2)", {2}),
        ("SELECT 1 WHERE id IN (SELECT x FROM y WHERE z = $1)", set()),
        ("SELECT 1 FROM a JOIN($1) b ON true WHERE login($2)", set()),
        ("SELECT 'in ($1)', \"in ($2)\" /* in ($3) */ WHERE x = ANY($4)", set()),
        ("SELECT 1 WHERE x IN ($1", set()),  # never closed: the server refuses it
    ],
)
def test_which_parameters_are_items_of_an_in_list(sql: str, items: set[int]) -> None:
    assert in_list_parameters(sql) == items
