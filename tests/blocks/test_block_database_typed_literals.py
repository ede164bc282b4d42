"""Database block: `type '<ref>'` typed literals and strings for types only the server
reads (interval, point, ranges…) mean what the literal would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.sql_lexer import TYPED_LITERAL_TYPES

# type as written → (the reference's value, the block's output for it)
TYPED = {
    "date": ("2024-01-15", "2024-01-15"),
    "time": ("10:30:00", "10:30:00"),
    "timetz": ("10:30:00+02:00", "10:30:00+02:00"),
    "time with time zone": ("10:30:00+02:00", "10:30:00+02:00"),
    "time without time zone": ("10:30", "10:30:00"),
    "timestamp": ("2024-01-15 10:30:00", "2024-01-15T10:30:00"),
    "timestamptz": ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00+00:00"),
    "timestamp with time zone": ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00+00:00"),
    "timestamp without time zone": ("2024-01-15 10:30:00", "2024-01-15T10:30:00"),
    "interval": ("1 day 2 hours", "P1DT2H"),
    "uuid": ("0b3a2f7e-95a6-4c5e-8a57-6a1f4b0c9d11", "0b3a2f7e-95a6-4c5e-8a57-6a1f4b0c9d11"),
    "json": ('{"a":[1,2]}', {"a": [1, 2]}),
    "jsonb": ('{"a": [1, 2]}', {"a": [1, 2]}),
    "bytea": ("\\x0102", "AQI="),
    "inet": ("10.0.0.1", "10.0.0.1"),
    "cidr": ("10.0.0.0/8", "10.0.0.0/8"),
    "boolean": ("yes", True),
    "bool": ("f", False),
    "numeric": ("12.50", 12.5),
    "decimal": ("12.50", 12.5),
    "real": ("1.5", 1.5),
    "double precision": ("1.5", 1.5),
    "float4": ("1.5", 1.5),
    "float8": ("1.5", 1.5),
    "smallint": ("7", 7),
    "integer": ("7", 7),
    "int": ("7", 7),
    "bigint": ("7", 7),
    "int2": ("7", 7),
    "int4": ("7", 7),
    "int8": ("7", 7),
    "text": ("it's", "it's"),
    "varchar": ("x", "x"),
    "character varying": ("x", "x"),
}


def test_every_typed_literal_type_is_tested() -> None:
    assert set(TYPED) == set(TYPED_LITERAL_TYPES)


def workflow(query: str) -> str:
    return f"""
        name: typed
        blocks:
          start: {{type: manual}}
          d: {{type: database, query: {json.dumps(query)}}}
        edges: [start -> d]
        """


@pytest.mark.parametrize("type_name", sorted(TYPED))
async def test_a_typed_literal_around_a_reference_reads_as_the_literal(
    run_yaml: Any, type_name: str
) -> None:
    """`interval '<ref>'` became `$1::interval` and failed: "invalid input for query
    argument $1: '1 day' ('str' object has no attribute 'days')"."""
    value, expected = TYPED[type_name]
    literal = "'" + value.replace("'", "''") + "'"
    result = await run_yaml(
        workflow(
            f"SELECT {type_name} '<start.v>' AS v, "
            f"({type_name} '<start.v>')::text = ({type_name} {literal})::text AS same"
        ),
        {"v": value},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["v"] == expected
    assert result["output"]["same"] is True


@pytest.mark.parametrize(
    ("query", "value", "expected"),
    [
        ("SELECT '<start.v>'::interval AS out", "1 day", "P1D"),
        ("SELECT (now() - interval '<start.v>') < now() AS out", "1 day", True),
        # A month is a calendar month, as in the literal (no timedelta can say it).
        ("SELECT (date '2024-01-31' + interval '<start.v>')::date AS out", "1 mon", "2024-02-29"),
        ("SELECT interval '<start.v>' hour AS out", "3 hours 5 min", "PT3H"),
        ("SELECT upper('<start.v>'::int4range) AS out", "[1,5)", 5),
        ("SELECT ('<start.v>'::point)[1] AS out", "(1,2)", 2.0),
        ("SELECT ('<start.v>'::bit(3))::text AS out", "101", "101"),
        ("SELECT '<start.v>'::pg_lsn::text AS out", "0/16B3748", "0/16B3748"),
        (
            "SELECT sum(x) AS out FROM unnest('<start.v>'::interval[]) x",
            ["1 day", "2 hours"],
            "P1DT2H",
        ),
        ("SELECT '<start.v>'::bytea AS out", "héllo \\\\ ok", "aMOpbGxvIFwgb2s="),
    ],
)
async def test_a_string_only_the_server_reads_is_cast_there(
    run_yaml: Any, query: str, value: Any, expected: Any
) -> None:
    result = await run_yaml(workflow(query), {"v": value})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["out"] == expected


async def test_an_interval_column_takes_the_string(run_yaml: Any, pg: Any, table_name: str) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (wait interval, span int4range)")
    result = await run_yaml(
        workflow(
            f"INSERT INTO {table_name} VALUES ('<start.wait>', '<start.span>') "
            "RETURNING wait::text AS wait, span::text AS span"
        ),
        {"wait": "2 weeks 3 days", "span": "[1,10)"},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["row"] == {"wait": "17 days", "span": "[1,10)"}


async def test_a_string_the_server_refuses_is_not_quoted(run_yaml: Any) -> None:
    result = await run_yaml(
        workflow("SELECT interval '<start.v>' AS out"), {"v": "alice@example.com"}
    )
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "invalid input syntax for type interval" in message and "alice" not in message


@pytest.mark.parametrize("value", ["0", 0, "759", 759])
async def test_a_transaction_id_takes_text_or_a_number(run_yaml: Any, value: Any) -> None:
    """`events_after('<start.xid>', …)` (docs/event-sourcing.md, "start from ('0', 0)")
    failed: the text was bound to an xid8 as text, which asyncpg refuses, and so was
    the integer the events' `transaction_id` reads back as."""
    query = "SELECT '<start.v>'::xid8 AS x8, <start.v>::xid AS x, ('<start.v>'::xid8)::text AS t"
    result = await run_yaml(workflow(query), {"v": value})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["row"] == {"x8": int(value), "x": int(value), "t": str(value)}


@pytest.mark.parametrize(
    ("query", "inputs", "expected"),
    [
        # The form the docs above give for a number of hours: `'<ref> hours'`.
        ("SELECT interval '<start.n> hours' AS out", {"n": 3}, "PT3H"),
        ("SELECT (now() - INTERVAL '<start.n> days') < now() AS out", {"n": 2}, True),
        ("SELECT date '<start.y>-<start.m>-01' AS out", {"y": 2024, "m": "02"}, "2024-02-01"),
        (
            "SELECT timestamptz '<start.day> 10:30:00+00' AS out",
            {"day": "2024-01-15"},
            "2024-01-15T10:30:00+00:00",
        ),
        ("SELECT interval '<start.n> hours 5 minutes' hour AS out", {"n": 3}, "PT3H"),
    ],
)
async def test_a_typed_literal_with_text_around_a_reference_reads_as_the_literal(
    run_yaml: Any, query: str, inputs: dict[str, Any], expected: Any
) -> None:
    """`INTERVAL '<ref> days'` ran as `INTERVAL ($1::text || ' days')`: "syntax error at
    or near $1", so seed-style SQL such as `created_at > NOW() - INTERVAL '<f.days>
    days'` failed every run."""
    result = await run_yaml(workflow(query), inputs)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["out"] == expected
