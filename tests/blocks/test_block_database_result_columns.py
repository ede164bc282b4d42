"""The Database block's result columns: a row is an object keyed by column name, so
two columns of one name cannot both be kept. The block refuses such a statement
instead of silently keeping only the last column of each name. Nor can a column
named like one of the block's own fields (`rows`, `row_count`, `row`) be kept at
the top level of the output, where the first row's columns go."""

from __future__ import annotations

from typing import Any

import pytest


async def test_two_columns_of_one_name_are_refused_naming_the_column(run_yaml: Any) -> None:
    result = await run_yaml(
        """
        version: 1
        name: db_same_named_columns
        blocks:
          q:
            type: database
            query: SELECT 1 AS a, 2 AS a, 3 AS b
        """
    )
    assert result["status"] == "failed"
    error = result["error"]
    assert error["type"] == "DuplicateColumns"
    assert error["block"] == "q"
    assert "more than one column named 'a'" in error["message"]
    assert "'b'" not in error["message"]
    assert "alias" in error["message"]
    assert "SQL: SELECT 1 AS a, 2 AS a, 3 AS b" in error["message"]


async def test_a_join_selecting_both_ids_is_refused(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    await pg.execute(f"CREATE TABLE {table_name}_o (id int, customer int)")
    await pg.execute(f"CREATE TABLE {table_name}_c (id int, name text)")
    await pg.execute(f"INSERT INTO {table_name}_o VALUES (10, 1)")
    await pg.execute(f"INSERT INTO {table_name}_c VALUES (1, 'ann')")
    result = await run_yaml(
        f"""
        version: 1
        name: db_join_ids
        blocks:
          q:
            type: database
            query: >
              SELECT o.id, c.id, c.name FROM {table_name}_o o
              JOIN {table_name}_c c ON c.id = o.customer
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["type"] == "DuplicateColumns"
    assert "'id'" in result["error"]["message"]
    assert "'name'" not in result["error"]["message"]


async def test_unnamed_columns_are_refused_too(run_yaml: Any) -> None:
    """PostgreSQL names every unnamed expression ?column?."""
    result = await run_yaml(
        """
        version: 1
        name: db_unnamed_columns
        blocks:
          q:
            type: database
            query: SELECT 1, 2
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["type"] == "DuplicateColumns"
    assert "'?column?'" in result["error"]["message"]


async def test_a_refused_statement_is_not_run(run_yaml: Any, pg: Any, table_name: str) -> None:
    """Refused before it runs: an INSERT … RETURNING with same-named columns writes
    nothing, so fixing the aliases and running again does not insert twice."""
    await pg.execute(f"CREATE TABLE {table_name} (id int, n int)")
    result = await run_yaml(
        f"""
        version: 1
        name: db_refused_insert
        blocks:
          ins:
            type: database
            retries: 2
            retry_backoff: 0
            query: INSERT INTO {table_name} VALUES (1, 2) RETURNING id AS x, n AS x
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["type"] == "DuplicateColumns"
    assert result["blocks"]["ins"]["attempts"] == 1  # the same statement, the same columns
    assert await pg.fetchval(f"SELECT count(*) FROM {table_name}") == 0


@pytest.mark.parametrize("column", ["row_count", "rows", "row"])
async def test_a_column_named_like_an_output_field_is_refused(run_yaml: Any, column: str) -> None:
    """`SELECT count(*) AS row_count` would be hidden at the top level by the block's
    own `row_count` (the number of rows, 1): `<q.row_count>` must not read 1."""
    result = await run_yaml(
        f"""
        version: 1
        name: db_output_field_column
        blocks:
          q:
            type: database
            query: SELECT 5 AS {column}, 1 AS id
        """
    )
    assert result["status"] == "failed"
    error = result["error"]
    assert error["type"] == "ReservedColumns"
    assert error["block"] == "q"
    assert f"a column named {column!r}" in error["message"]
    assert "'id'" not in error["message"]
    assert "AS n" in error["message"]
    assert f"SQL: SELECT 5 AS {column}, 1 AS id" in error["message"]


async def test_a_column_named_like_an_output_field_is_refused_before_it_runs(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    """Refused before it runs, like same-named columns: the INSERT writes nothing, once."""
    await pg.execute(f"CREATE TABLE {table_name} (id int, n int)")
    result = await run_yaml(
        f"""
        version: 1
        name: db_output_field_insert
        blocks:
          ins:
            type: database
            retries: 2
            retry_backoff: 0
            query: INSERT INTO {table_name} VALUES (1, 2) RETURNING id, n AS row_count
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["type"] == "ReservedColumns"
    assert "'row_count'" in result["error"]["message"]
    assert result["blocks"]["ins"]["attempts"] == 1  # the same statement, the same columns
    assert await pg.fetchval(f"SELECT count(*) FROM {table_name}") == 0


async def test_a_column_aliased_away_from_an_output_field_is_kept(run_yaml: Any) -> None:
    result = await run_yaml(
        """
        version: 1
        name: db_output_field_aliased
        blocks:
          q:
            type: database
            query: SELECT 5 AS n, 'x' AS row_id
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["n"] == 5
    assert result["output"]["row_id"] == "x"
    assert result["output"]["row_count"] == 1
    assert result["output"]["row"] == {"n": 5, "row_id": "x"}


async def test_aliased_columns_are_all_kept(run_yaml: Any) -> None:
    result = await run_yaml(
        """
        version: 1
        name: db_aliased_columns
        blocks:
          q:
            type: database
            query: SELECT 1 AS a, 2 AS a_2
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["row"] == {"a": 1, "a_2": 2}
