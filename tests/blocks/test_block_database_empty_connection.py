"""A Database block whose `connection:` comes out empty runs nowhere, never on the
runner's own database in its place.

`connection: <env.ORDERS_DATABASE_URL>` with the variable set but empty (`NAME=` in
a compose file), or `<input.db?>` with no such field, resolved to "" or null, and the
block took that for "no connection": its statement ran on flowyard's own database
(the run log's), an INSERT meant for the orders database written there. The block now
fails saying which setting came out empty; an unset variable already failed, as a
missing reference. Real embedded PostgreSQL: the table the statement would write is
made in the runner's database, and stays empty.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

WORKFLOW = """
    name: empty_connection
    blocks:
      start: {{type: manual}}
      q:
        type: database
        connection: "{connection}"
        query: INSERT INTO {table} (note) VALUES ('meant for the orders database') RETURNING note
    edges: [start -> q]
    """


@pytest.mark.parametrize(
    ("connection", "environment", "run_input"),
    [
        ("<env.DOC_ORDERS_DB>", "", {}),
        ("<env.DOC_ORDERS_DB>", "   ", {}),
        ("<start.db?>", None, {}),
        ("<start.db>", None, {"db": None}),
        ("<start.db>", None, {"db": ""}),
    ],
)
async def test_an_empty_connection_runs_nothing_on_the_runners_database(
    run_yaml: Any,
    database_url: str,
    table: str,
    monkeypatch: pytest.MonkeyPatch,
    connection: str,
    environment: str | None,
    run_input: dict[str, Any],
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"CREATE TABLE {table} (note text)")
        if environment is not None:
            monkeypatch.setenv("DOC_ORDERS_DB", environment)
        result = await run_yaml(WORKFLOW.format(connection=connection, table=table), run_input)
        assert result["status"] == "failed", result["output"]
        error = result["blocks"]["q"]["error"]
        assert error["type"] == "DatabaseConnectionError", error
        assert "`connection` is empty" in error["message"], error
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
    finally:
        await conn.close()
