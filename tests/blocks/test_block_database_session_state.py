"""Database block: what a statement changes in its connection's session ends with the
block; the next statement on that pooled connection (another run's) starts afresh.

asyncpg's reset on release is `RESET ALL`, which leaves the role (`SET ROLE`), the
session user (`SET SESSION AUTHORIZATION`) and temporary tables in place: one run's
`SET ROLE tenant` made every later statement on that connection, of any workflow,
run as `tenant`, and a `CREATE TEMP TABLE` made the next run's fail "already exists".
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.runtime import Runtime

ROLE = "flowyard_test_session_tenant"

LEAK = f"""
    name: leak
    blocks:
      start: {{type: manual}}
      role: {{type: database, query: "SET ROLE {ROLE}"}}
      who: {{type: database, query: "SET SESSION AUTHORIZATION {ROLE}"}}
      temp: {{type: database, query: "CREATE TEMP TABLE scratch_session (x int)"}}
      tenant: {{type: database, query: "SELECT set_config('app.tenant', 't1', false) AS t"}}
      pid: {{type: database, query: "SELECT pg_backend_pid() AS pid"}}
    edges: [start -> role, role -> who, who -> temp, temp -> tenant, tenant -> pid]
    """

CHECK = """
    name: check
    blocks:
      start: {type: manual}
      q:
        type: database
        query: |
          SELECT pg_backend_pid() AS pid, current_user AS cur, session_user AS ses,
                 to_regclass('pg_temp.scratch_session') IS NOT NULL AS temp,
                 current_setting('app.tenant', true) AS tenant
    edges: [start -> q]
    """


async def test_a_role_or_temp_table_set_by_one_run_is_gone_for_the_next(
    runtime: Runtime, run_yaml: Any
) -> None:
    await runtime.db.pool.execute(
        f"DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
    )
    me = await runtime.db.pool.fetchval("SELECT session_user")
    leaked = await run_yaml(LEAK)
    assert leaked["status"] == "succeeded", leaked["error"]
    checked = await run_yaml(CHECK)
    assert checked["status"] == "succeeded", checked["error"]
    # The pool hands out the connection released last: the one the leak ran on.
    assert checked["output"]["pid"] == leaked["output"]["pid"]
    row = checked["output"]["row"]
    assert (row["cur"], row["ses"]) == (me, me)
    assert row["temp"] is False
    assert row["tenant"] in (None, "")
    again = await run_yaml(LEAK)
    assert again["status"] == "succeeded", again["error"]


def group(*queries: str) -> str:
    """Database blocks b0, b1… in a chain, in transaction group g."""
    lines = "".join(
        f"  b{i}: {{type: database, transaction: g, query: {json.dumps(q)}}}\n"
        for i, q in enumerate(queries)
    )
    chain = ", ".join(
        f"{a} -> b{i}" for i, a in enumerate(["start", *(f"b{i}" for i in range(len(queries) - 1))])
    )
    return f"name: grp\nblocks:\n  start: {{type: manual}}\n{lines}edges: [{chain}]\n"


async def test_a_read_only_group_commits(run_yaml: Any) -> None:
    """`SET TRANSACTION … READ ONLY, DEFERRABLE` (a consistent snapshot for a report):
    the group's commit marker was written inside it and refused, failing the run
    "cannot execute INSERT in a read-only transaction"."""
    result = await run_yaml(
        group(
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE",
            "SELECT current_setting('transaction_read_only') AS ro",
        )
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["ro"] == "on"


async def test_a_group_with_its_own_role_and_search_path_commits(
    runtime: Runtime, run_yaml: Any, table: str
) -> None:
    """A schema per tenant (`SET LOCAL search_path`) or a role of its own (`SET LOCAL
    ROLE`): the commit marker, written on the group's connection after them, failed
    'relation "flowyard_run_events" does not exist' or 'permission denied', and the
    group's writes were rolled back."""
    schema = f"s_{table}"
    await runtime.db.pool.execute(
        f"CREATE SCHEMA {schema}; CREATE TABLE {schema}.items (id int);"
        f"GRANT USAGE ON SCHEMA {schema} TO {ROLE}; GRANT ALL ON {schema}.items TO {ROLE}"
    )
    try:
        result = await run_yaml(
            group(
                f"SET LOCAL search_path TO {schema}",
                f"SET LOCAL ROLE {ROLE}",
                "INSERT INTO items VALUES (1)",
            )
        )
        assert result["status"] == "succeeded", result["error"]
        assert await runtime.db.pool.fetchval(f"SELECT count(*) FROM {schema}.items") == 1
    finally:
        await runtime.db.pool.execute(f"DROP SCHEMA {schema} CASCADE")


ISOLATED = """
    name: isolated
    blocks:
      start: {type: manual}
      iso: {type: database, transaction: g, query: "SET TRANSACTION ISOLATION LEVEL %s"}
      read: {type: database, transaction: g, query: "SELECT count(*) AS n FROM %s"}
      beat:
        type: database
        query: "UPDATE flowyard_runs SET heartbeat_at = now() WHERE status = 'running'"
      write: {type: database, transaction: g, query: "INSERT INTO %s VALUES (<read.n>::int)"}
    edges: [start -> iso, iso -> read, read -> beat, beat -> write]
    """


@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
async def test_an_isolated_group_commits_though_its_run_was_beaten_meanwhile(
    runtime: Runtime, run_yaml: Any, table: str, level: str
) -> None:
    """The commit marker share-locked the run's row inside the group's transaction: at
    REPEATABLE READ or SERIALIZABLE, a row updated after the group's snapshot (the run's
    own start, a heartbeat every 10 s) cannot be locked, so the group failed 'could not
    serialize access due to concurrent update' — one run alone, every time it lasted."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (n int)")
    result = await run_yaml(ISOLATED % (level, table, table))
    assert result["status"] == "succeeded", result["error"]
    assert await runtime.db.pool.fetchval(f"SELECT count(*) FROM {table}") == 1
