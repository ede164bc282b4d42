"""A Database error's detail quoting row values is left out when a parameter of
the statement holds a secret (the real embedded PostgreSQL).

PostgreSQL's "Failing row contains (…)" and "Key (…)=(…)" details quote the values
of the row, which SQL may have derived from a parameter:
``substr('<env.CARD_SECRET>', 2)`` failed a check constraint with "Detail: Failing
row contains (k_live_abcdef123456, 2)": no parameter's text, so kept, and no
longer the secret's text, so not redacted.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_secret_leaks import recorded_text

from engine.runtime import Runtime

CARD = "sk_live_abcdef123456"
DERIVED = CARD[1:]  # what substr(…, 2) makes of it


@pytest.fixture
def card_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FY_CARD_SECRET", CARD)
    return CARD


def insert(name: str, table: str, card: str) -> str:
    return f"""
        name: {name}
        blocks:
          ins:
            type: database
            query: INSERT INTO {table} (card, n) VALUES (substr('{card}', 2), 2)
        """


async def test_a_failing_row_derived_from_a_secret_is_not_quoted(
    run_yaml: Any, runtime: Runtime, pg: Any, table_name: str, card_secret: str
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (card text CHECK (length(card) < 5), n int)")
    result = await run_yaml(insert("db_check_secret", table_name, "<env.FY_CARD_SECRET>"))
    assert result["status"] == "failed"
    message = result["error"]["message"]
    # The rest of the error stays: what failed, the SQLSTATE, the statement.
    assert f'new row for relation "{table_name}" violates check constraint' in message
    assert "SQLSTATE 23514" in message and "VALUES (substr($1, 2), 2)" in message
    assert "Failing row contains" not in message, message
    assert "Detail: left out" in message, message
    assert DERIVED[:8] not in await recorded_text(runtime, result)


async def test_a_duplicate_key_derived_from_a_secret_is_not_quoted(
    run_yaml: Any, runtime: Runtime, pg: Any, table_name: str, card_secret: str
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (card text UNIQUE, n int)")
    workflow = insert("db_unique_secret", table_name, "<env.FY_CARD_SECRET>")
    assert (await run_yaml(workflow))["status"] == "succeeded"
    result = await run_yaml(workflow)
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "duplicate key value violates unique constraint" in message
    assert "Key (card)=" not in message, message
    assert DERIVED[:8] not in await recorded_text(runtime, result)


async def test_a_failing_row_is_still_quoted_when_no_parameter_is_a_secret(
    run_yaml: Any, pg: Any, table_name: str, card_secret: str
) -> None:
    """The same value from the input (no secret of the run): the detail stays, the
    parameter's own text in it replaced as before."""
    await pg.execute(f"CREATE TABLE {table_name} (card text CHECK (length(card) < 5), n int)")
    result = await run_yaml(
        insert("db_check_plain", table_name, "<input.card>"), {"card": "plain-card-value"}
    )
    assert result["status"] == "failed"
    assert "Detail: Failing row contains (lain-card-value, 2)." in result["error"]["message"]


@pytest.mark.parametrize(
    ("query", "says"),
    [
        (
            "SELECT substr('<env.FY_CARD_SECRET>', 3)::int AS x",
            "invalid input syntax for type integer",
        ),
        ("SELECT to_date(substr('<env.FY_CARD_SECRET>', 2), 'YYYY') AS x", "invalid value"),
    ],
)
async def test_a_message_quoting_a_value_derived_from_a_secret_does_not_quote_it(
    run_yaml: Any, runtime: Runtime, card_secret: str, query: str, says: str
) -> None:
    """The primary message quotes the value it refused (`invalid input syntax for type
    integer: "_live_…"`): with a secret among the parameters, no quoted value is kept."""
    result = await run_yaml(
        f"""
        name: db_message_secret
        blocks:
          q: {{type: database, query: "{query}"}}
        """
    )
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert says in message, message
    assert CARD[2:10] not in message and CARD[1:5] not in message, message
    assert CARD[2:10] not in await recorded_text(runtime, result)
