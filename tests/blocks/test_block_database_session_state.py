"""Database block: what a statement changes in its connection's session ends with the
block; the next statement on that pooled connection (another run's) starts afresh.

asyncpg's reset on release is `RESET ALL`, which leaves the role (`SET ROLE`), the
session user (`SET SESSION AUTHORIZATION`) and temporary tables in place: one run's
`SET ROLE tenant` made every later statement on that connection, of any workflow,
run as `tenant`, and a `CREATE TEMP TABLE` made the next run's fail "already exists".
"""

from __future__ import annotations

from typing import Any

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
