"""Database block: a time without an offset, given through a reference, means what the
literal it replaced means — a time in the session's time zone, as PostgreSQL reads it.

The block read it as UTC whatever the session's zone: on a server in Europe/Berlin
(an embedded PostgreSQL initialised on a machine there, a managed one set so),
`created_at >= '<input.since>'::timestamptz` with since `2030-01-02 10:00` counted from
11:00 Berlin time, where the same SQL with the literal counts from 10:00 — an hour of
rows left out (two in summer). A `timetz` without an offset failed the block.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

BERLIN = "options=-c%20TimeZone%3DEurope%2FBerlin"


def _workflow(query: str, mode: str) -> str:
    """The query in a session on Europe/Berlin: a connection of its own set so by its
    URL, or the runner's database in a transaction group that sets it first."""
    if mode == "connection":
        return f"""
        name: time_zones
        blocks:
          start: {{type: manual}}
          d:
            type: database
            connection: <start.db>
            query: {json.dumps(query)}
        edges: [start -> d]
        """
    return f"""
        name: time_zones
        blocks:
          start: {{type: manual}}
          zone:
            type: database
            transaction: t
            query: SET LOCAL TIME ZONE 'Europe/Berlin'
          d:
            type: database
            transaction: t
            query: {json.dumps(query)}
        edges: [start -> zone, zone -> d]
        """


def _input(database_url: str, **values: str) -> dict[str, str]:
    sep = "&" if "?" in database_url else "?"
    return {"db": f"{database_url}{sep}{BERLIN}", **values}


@pytest.mark.parametrize("mode", ["connection", "transaction"])
@pytest.mark.parametrize(
    ("text", "sql_type"),
    [
        ("2030-01-02 10:00", "timestamptz"),
        ("2030-07-02T10:00:00", "timestamptz"),  # summer time: two hours off UTC
        ("2030-01-02t10:00:30.5", "timestamptz"),
        ("2030-01-02", "timestamptz"),  # midnight, where the session is
        ("2030-01-02T10:00:00Z", "timestamptz"),
        ("2030-01-02 10:00:00+05", "timestamptz"),
        ("10:00", "timetz"),
        ("10:00:00+02:00", "timetz"),
    ],
)
async def test_a_referenced_time_means_what_the_literal_means(
    run_yaml: Any, database_url: str, text: str, sql_type: str, mode: str
) -> None:
    query = (
        f"SELECT current_setting('TimeZone') AS zone,"
        f" '<start.at>'::{sql_type} AS cast_ref, {sql_type} '<start.at>' AS typed_ref,"
        f" '{text}'::{sql_type} AS literal"
    )
    result = await run_yaml(_workflow(query, mode), _input(database_url, at=text))
    assert result["status"] == "succeeded", result["error"]
    row = result["output"]["row"]
    assert row["zone"] == "Europe/Berlin"
    assert row["cast_ref"] == row["literal"], row
    assert row["typed_ref"] == row["literal"], row


async def test_a_column_compared_with_a_referenced_time_selects_as_the_literal_does(
    run_yaml: Any, database_url: str, pg: Any, table_name: str
) -> None:
    """The type comes from the column (no cast written): the rows from 10:00 Berlin."""
    await pg.execute(f"CREATE TABLE {table_name} (id int, at timestamptz)")
    await pg.execute(
        f"INSERT INTO {table_name} VALUES (1, '2030-01-02 09:30+01'), (2, '2030-01-02 10:30+01')"
    )
    query = f"SELECT array_agg(id ORDER BY id) AS ids FROM {table_name} WHERE at >= '<start.at>'"
    result = await run_yaml(
        _workflow(query, "connection"),
        _input(database_url, at="2030-01-02 10:00"),
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["ids"] == [2]  # 09:30 Berlin is before 10:00 Berlin
