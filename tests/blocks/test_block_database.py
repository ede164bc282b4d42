"""Database Query block against the real (embedded) PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any


async def test_select_outputs_rows_row_and_columns(run_yaml: Any) -> None:
    result = await run_yaml(
        """
        version: 1
        name: db_select
        blocks:
          q:
            type: database
            query: >
              SELECT 1 AS id, 'a' AS name, 19.99::numeric AS price, 100::numeric AS whole,
                     '6b7c9a2e-2f8e-4c1f-9d0e-1a2b3c4d5e6f'::uuid AS uid,
                     '2024-05-01T10:00:00Z'::timestamptz AS at, '{"k": [1, 2]}'::jsonb AS doc
              UNION ALL SELECT 2, 'b', 0.1, 1, gen_random_uuid(), now(), NULL
        """
    )
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["row_count"] == 2
    assert out["row"] == out["rows"][0]
    assert out["id"] == 1 and out["name"] == "a"  # first row's columns at the top level
    assert out["price"] == 19.99 and out["whole"] == 100
    assert out["uid"] == "6b7c9a2e-2f8e-4c1f-9d0e-1a2b3c4d5e6f"
    assert out["at"].startswith("2024-05-01T10:00:00")
    assert out["doc"] == {"k": [1, 2]}  # jsonb comes out as a dict
    json.dumps(out)  # everything is JSON-friendly


async def test_references_are_coerced_to_the_inferred_parameter_types(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    await pg.execute(
        f"CREATE TABLE {table_name} (id uuid, n int, amount numeric, at timestamptz, flag bool,"
        " label text, data jsonb, day date)"
    )
    result = await run_yaml(
        f"""
        version: 1
        name: db_coerce
        blocks:
          ins:
            type: database
            query: >
              INSERT INTO {table_name} VALUES ('<input.id>', '<input.n>', '<input.amount>', '<input.at>',
                '<input.flag>', '<input.label>', '<input.data>'::jsonb, '<input.day>')
              RETURNING n, amount, label, data
        """,
        {
            "id": "0b3a2f7e-95a6-4c5e-8a57-6a1f4b0c9d11",
            "n": "42",
            "amount": "12.50",
            "at": "2024-06-01T12:00:00+02:00",
            "flag": "true",
            "label": 7,
            "data": {"order": {"items": [1, 2]}},
            "day": "2024-06-01",
        },
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["row"] == {
        "n": 42,
        "amount": 12.5,
        "label": "7",
        "data": {"order": {"items": [1, 2]}},
    }
    row = await pg.fetchrow(f"SELECT * FROM {table_name}")
    assert str(row["id"]) == "0b3a2f7e-95a6-4c5e-8a57-6a1f4b0c9d11"
    assert row["at"].isoformat() == "2024-06-01T10:00:00+00:00"
    assert row["flag"] is True and str(row["day"]) == "2024-06-01"


async def test_injection_value_is_stored_verbatim(run_yaml: Any, pg: Any, table_name: str) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (note text)")
    evil = "'; DROP TABLE " + table_name + "; --"
    result = await run_yaml(
        f"""
        version: 1
        name: db_injection
        blocks:
          ins:
            type: database
            query: INSERT INTO {table_name} (note) VALUES ('<input.note>')
        """,
        {"note": evil},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["row_count"] == 1
    assert await pg.fetchval(f"SELECT note FROM {table_name}") == evil


async def test_reference_inside_a_longer_literal_and_named_params(run_yaml: Any) -> None:
    result = await run_yaml(
        """
        version: 1
        name: db_named
        blocks:
          q:
            type: database
            query: "SELECT 'order-<input.id>' AS tag, :limit::int + 1 AS next, '::keep' AS lit"
            params: {limit: 9}
        """,
        {"id": "o'1"},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["tag"] == "order-o'1"
    assert result["output"]["next"] == 10 and result["output"]["lit"] == "::keep"


async def test_update_row_count_and_list_params(run_yaml: Any, pg: Any, table_name: str) -> None:
    await pg.execute(
        f"CREATE TABLE {table_name} (n int); INSERT INTO {table_name} SELECT generate_series(1, 5)"
    )
    result = await run_yaml(
        f"""
        version: 1
        name: db_update
        blocks:
          upd:
            type: database
            query: UPDATE {table_name} SET n = n * 10 WHERE n > $1
            params: [2]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"rows": [], "row_count": 3, "row": None}


async def test_error_carries_message_sqlstate_and_positions_not_values(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (email text UNIQUE)")
    secret_value = "very-private@example.com"
    yaml = f"""
        version: 1
        name: db_error
        blocks:
          ins:
            type: database
            query: INSERT INTO {table_name} (email) VALUES ('<input.email>')
        """
    assert (await run_yaml(yaml, {"email": secret_value}))["status"] == "succeeded"
    result = await run_yaml(yaml, {"email": secret_value})
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "duplicate key value violates unique constraint" in message
    assert "SQLSTATE 23505" in message
    assert f"INSERT INTO {table_name} (email) VALUES ($1)" in message
    assert secret_value not in message
    assert result["error"]["block"] == "ins"


async def test_bad_value_for_a_typed_parameter_names_the_reference(run_yaml: Any) -> None:
    result = await run_yaml(
        """
        version: 1
        name: db_badvalue
        blocks:
          q:
            type: database
            query: SELECT '<input.id>'::uuid AS id
        """,
        {"id": "not-a-uuid-secret"},
    )
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "<input.id>" in message and "uuid" in message
    assert "not-a-uuid-secret" not in message


async def test_connection_key_uses_another_pool(run_yaml: Any, database_url: str) -> None:
    sep = "&" if "?" in database_url else "?"
    result = await run_yaml(
        """
        version: 1
        name: db_connection
        blocks:
          q:
            type: database
            connection: <input.db>
            query: SELECT current_setting('application_name') AS app
        """,
        {"db": f"{database_url}{sep}application_name=flowyard_other"},
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["app"] == "flowyard_other"


# -- transaction groups -------------------------------------------------------------

COUNTER_WORKFLOW = """
version: 1
name: counter_{mode}
blocks:
  lock:
    type: database
    {tx}
    # pg_sleep widens the window between read and write, so that without one
    # transaction the concurrent runs reliably read the same value.
    query: SELECT n, pg_sleep(0.05) FROM {table} WHERE id = 1 FOR UPDATE
  bump:
    type: database
    {tx}
    query: UPDATE {table} SET n = <lock.n> + 1 WHERE id = 1
edges:
  - lock -> bump
"""


async def _run_counter(
    run_yaml: Any, pg: Any, table: str, with_transaction: bool, runs: int = 20
) -> int:
    await pg.execute(
        f"CREATE TABLE {table} (id int PRIMARY KEY, n int NOT NULL); INSERT INTO {table} VALUES (1, 0)"
    )
    yaml = COUNTER_WORKFLOW.format(
        mode="tx" if with_transaction else "plain",
        tx="transaction: counter" if with_transaction else "",
        table=table,
    )
    results = await asyncio.gather(*(run_yaml(yaml) for _ in range(runs)))
    assert all(r["status"] == "succeeded" for r in results), [
        r["error"] for r in results if r["error"]
    ]
    return int(await pg.fetchval(f"SELECT n FROM {table} WHERE id = 1"))


async def test_transaction_group_serializes_read_modify_write(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    """SELECT … FOR UPDATE and the UPDATE share one transaction: 20 runs give +20."""
    assert await _run_counter(run_yaml, pg, table_name, with_transaction=True) == 20


async def test_without_transaction_updates_are_lost(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    """The same workflow without `transaction`: each block commits on its own
    connection, so the FOR UPDATE lock ends before the UPDATE runs and concurrent
    runs overwrite each other. This documents why `transaction:` exists (it is the
    bug in the seed's step 4/6, and Sim's behaviour)."""
    final = await _run_counter(run_yaml, pg, table_name, with_transaction=False)
    assert final < 20, f"expected lost updates without a transaction, got {final}"


async def test_failure_after_transactional_insert_leaves_no_row(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (id int)")
    result = await run_yaml(
        f"""
        version: 1
        name: db_rollback
        blocks:
          ins:
            type: database
            transaction: tx
            query: INSERT INTO {table_name} VALUES (1)
          boom:
            type: function
            code: |
              raise ValueError("payment declined")
          snap:
            type: database
            transaction: tx
            query: INSERT INTO {table_name} VALUES (2)
        edges:
          - ins -> boom
          - boom -> snap
        """
    )
    assert result["status"] == "failed"
    assert result["blocks"]["ins"]["status"] == "succeeded"
    assert await pg.fetchval(f"SELECT count(*) FROM {table_name}") == 0


async def test_a_run_record_says_which_succeeded_blocks_were_rolled_back(
    run_yaml: Any, runtime: Any, pg: Any, table_name: str
) -> None:
    """`succeeded` says a member ran; when its group then rolled back, its record says
    so too — in the waited result, the stored run and its event log — while a member
    of a group that had committed before the failure keeps its effect."""
    await pg.execute(f"CREATE TABLE {table_name} (id int)")
    result = await run_yaml(
        f"""
        version: 1
        name: db_rolled_back
        blocks:
          kept:
            type: database
            transaction: first
            query: INSERT INTO {table_name} VALUES (1)
          ins:
            type: database
            transaction: tx
            query: INSERT INTO {table_name} VALUES (2)
          boom:
            type: function
            code: |
              raise ValueError("payment declined")
          snap:
            type: database
            transaction: tx
            query: INSERT INTO {table_name} VALUES (3)
        edges: [kept -> ins, ins -> boom, boom -> snap]
        """
    )
    assert result["status"] == "failed"
    assert await pg.fetchval(f"SELECT array_agg(id) FROM {table_name}") == [1]
    assert result["blocks"]["ins"] | {"rolled_back": True} == result["blocks"]["ins"]
    assert result["blocks"]["ins"]["status"] == "succeeded"
    assert not result["blocks"]["kept"].get("rolled_back")
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["ins"]["rolled_back"] is True
    assert stored["blocks"]["kept"]["rolled_back"] is False
    assert stored["blocks"]["boom"]["rolled_back"] is False
    events = await runtime.run_events(result["execution_id"])
    undone = [e["data"] for e in events if e["type"] == "transaction_rolled_back"]
    assert undone == [{"group": "tx", "blocks": ["ins"]}]
    assert [e["type"] for e in events][-2:] == ["transaction_rolled_back", "run_failed"]


async def test_failing_statement_in_group_rolls_back_earlier_insert(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (id int PRIMARY KEY)")
    result = await run_yaml(
        f"""
        version: 1
        name: db_rollback2
        blocks:
          first:
            type: database
            transaction: tx
            query: INSERT INTO {table_name} VALUES (1)
          second:
            type: database
            transaction: tx
            query: INSERT INTO {table_name} VALUES (1)
        edges:
          - first -> second
        """
    )
    assert result["status"] == "failed"
    assert "SQLSTATE 23505" in result["error"]["message"]
    assert await pg.fetchval(f"SELECT count(*) FROM {table_name}") == 0


async def test_group_commits_when_its_last_member_succeeds(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    await pg.execute(f"CREATE TABLE {table_name} (id int)")
    result = await run_yaml(
        f"""
        version: 1
        name: db_commit
        blocks:
          a:
            type: database
            transaction: tx
            query: INSERT INTO {table_name} VALUES (1) RETURNING id
          b:
            type: database
            transaction: tx
            query: SELECT count(*) AS seen FROM {table_name}
        edges:
          - a -> b
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["seen"] == 1  # b sees a's uncommitted row: same transaction
    assert await pg.fetchval(f"SELECT count(*) FROM {table_name}") == 1
