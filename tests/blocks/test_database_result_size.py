"""A Database block's result is read a chunk at a time and may not pass the most a
run record keeps of an output: a `SELECT` without a `LIMIT` over a big table fails
its block, named, instead of holding every row (5 M integers took the server to
3 GB; more killed it, and every run in it). The limit is lowered here so the tests
stay small; the rule is the same at the real 64 MiB."""

from __future__ import annotations

from typing import Any

import pytest

import engine._recordable

#: Lowered cap: ~3,500 rows of `{"n":12345,"pad":"xxxxxxxxxx"}`.
CAP = 100_000


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine._recordable, "MAX_RECORDED_CHARS", CAP)


async def test_a_result_past_the_cap_fails_the_block_naming_limit(
    run_yaml: Any, small_cap: None
) -> None:
    result = await run_yaml(
        """
        version: 1
        name: db_too_big
        blocks:
          q:
            type: database
            query: SELECT n, 'xxxxxxxxxx' AS pad FROM generate_series(1, 100000) n
          after:
            type: function
            isolation: inline
            code: "return {'n': len(input.q.rows)}"
        edges: [q -> after]
        """
    )
    assert result["status"] == "failed"
    error = result["blocks"]["q"]["error"]
    assert error["block"] == "q" and error["type"] == "ResultTooLarge"
    assert f"over the {CAP:,} characters of JSON" in error["message"]
    assert "LIMIT" in error["message"]
    assert result["blocks"]["q"]["attempts"] == 1
    assert result["blocks"]["after"]["status"] in ("pending", "skipped")


async def test_a_result_under_the_cap_read_in_chunks_is_whole_and_exact(
    run_yaml: Any, small_cap: None
) -> None:
    # 1,200 rows: several chunks, under the cap.
    result = await run_yaml(
        """
        version: 1
        name: db_chunks
        blocks:
          q:
            type: database
            query: >
              SELECT n, n * 1.5 AS half, (n % 2 = 0) AS even, NULL::text AS nothing
              FROM generate_series(1, 1200) n
        """
    )
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["row_count"] == 1200 and len(out["rows"]) == 1200
    assert out["rows"][-1] == {"n": 1200, "half": 1800, "even": True, "nothing": None}
    assert [r["n"] for r in out["rows"]] == list(range(1, 1201))
    assert out["row"] == {"n": 1, "half": 1.5, "even": False, "nothing": None}
    assert out["n"] == 1 and out["half"] == 1.5


async def test_an_insert_returning_past_the_cap_writes_nothing(
    run_yaml: Any, pg: Any, table_name: str, small_cap: None
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (n int, pad text)")
    result = await run_yaml(
        f"""
        version: 1
        name: db_too_big_insert
        blocks:
          ins:
            type: database
            query: >
              INSERT INTO {table_name}
              SELECT n, 'xxxxxxxxxx' FROM generate_series(1, 9000) n RETURNING n, pad
        """
    )
    assert result["status"] == "failed"
    assert result["blocks"]["ins"]["error"]["type"] == "ResultTooLarge"
    # The block failed: the rows it would have written are not there either.
    assert await pg.fetchval(f"SELECT count(*) FROM {table_name}") == 0


async def test_in_a_group_a_result_past_the_cap_is_undone_alone_on_continue(
    run_yaml: Any, pg: Any, table_name: str, small_cap: None
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (n int, pad text)")
    result = await run_yaml(
        f"""
        version: 1
        name: db_too_big_group
        blocks:
          first:
            type: database
            transaction: g
            query: INSERT INTO {table_name} VALUES (-1, 'kept')
          big:
            type: database
            transaction: g
            on_error: continue
            query: >
              INSERT INTO {table_name}
              SELECT n, 'xxxxxxxxxx' FROM generate_series(1, 9000) n RETURNING n, pad
          last:
            type: database
            transaction: g
            query: INSERT INTO {table_name} VALUES (-2, 'kept') RETURNING n
        edges: [first -> big, big -> last]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["big"]["output"]["error"]["type"] == "ResultTooLarge"
    rows = await pg.fetch(f"SELECT n FROM {table_name} ORDER BY n")
    assert [r["n"] for r in rows] == [-2, -1]


async def test_a_procedure_that_commits_returns_its_values_and_runs_once(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    # A result is read inside a transaction, which such a CALL refuses: it runs as it
    # did before, once.
    await pg.execute(f"CREATE TABLE {table_name} (n int)")
    await pg.execute(
        f"CREATE PROCEDURE {table_name}_p(INOUT x int) LANGUAGE plpgsql AS"
        f" $$ BEGIN INSERT INTO {table_name} VALUES (x); COMMIT; x := x + 1; END $$"
    )
    result = await run_yaml(
        f"""
        version: 1
        name: db_call_commits
        blocks:
          call:
            type: database
            query: CALL {table_name}_p(41)
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["rows"] == [{"x": 42}] and result["output"]["row_count"] == 1
    assert await pg.fetchval(f"SELECT count(*) FROM {table_name}") == 1
