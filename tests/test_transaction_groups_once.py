"""Transaction groups and Database retries apply each effect once: a failed or
timed-out attempt is undone before the next, a group is logged committed exactly
when it committed, and a re-run reuses only what did commit.

Each test runs the real engine on the embedded PostgreSQL; none mocks the
database. A test here fails when the problem it names comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from db_helpers import count_rows

from engine.model import Workflow
from engine.recovery import restorable
from engine.runtime import Runtime

# -- retries inside a transaction group ----------------------------------------------


async def test_a_retry_inside_a_group_runs_on_a_usable_transaction(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """A member's failed attempt aborts the group's transaction in PostgreSQL; its
    retry must not then fail with "current transaction is aborted" (the retry would
    be useless and the error would hide the real one)."""
    pool = runtime.db.pool
    await pool.execute(f"CREATE TABLE {table} (id int); CREATE TABLE {table}_gate (x int)")
    wf = write_workflow(
        f"""
        name: audit_group_retry
        blocks:
          start: {{type: manual}}
          first: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (1)"}}
          flaky:
            type: database
            transaction: g
            retries: 2
            retry_backoff: 0.4
            query: INSERT INTO {table} SELECT 2 / (SELECT count(*) FROM {table}_gate)
        edges: [start -> first, first -> flaky]
        """
    )
    sub = await runtime.submit(wf, {})
    await asyncio.sleep(0.2)  # the first attempt divides by zero; open the gate
    await pool.execute(f"INSERT INTO {table}_gate VALUES (1)")
    result = await runtime.wait(sub.execution_id, timeout=30)
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["flaky"]["attempts"] == 2
    assert sorted(r["id"] for r in await pool.fetch(f"SELECT id FROM {table}")) == [1, 2]


_SWALLOW_CANCEL = """
CREATE SEQUENCE {table}_calls;
CREATE FUNCTION {table}_slow_insert() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {table} VALUES (1);
    IF nextval('{table}_calls') = 1 THEN  -- a sequence is not rolled back: first call only
        BEGIN  -- outlives the client's timeout, and still completes
            PERFORM pg_sleep(0.6);
        EXCEPTION WHEN query_canceled THEN NULL;
        END;
    END IF;
    RETURN 1;
END $$
"""


@pytest.mark.parametrize("group", [True, False], ids=["in_group", "alone"])
async def test_a_timed_out_attempt_that_completed_is_not_applied_twice(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str, group: bool
) -> None:
    """The first attempt's statement completes on the server but its reply comes
    after the block's `timeout`: the retry must not add its effect a second time."""
    pool = runtime.db.pool
    await pool.execute(f"CREATE TABLE {table} (id int)")
    await pool.execute(_SWALLOW_CANCEL.format(table=table))
    tx = "transaction: g" if group else ""
    wf = write_workflow(
        f"""
        name: audit_timeout_retry
        blocks:
          start: {{type: manual}}
          slow:
            type: database
            {tx}
            timeout: 0.2
            retries: 1
            retry_backoff: 0
            query: SELECT {table}_slow_insert() AS n
        edges: [start -> slow]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["slow"]["attempts"] == 2
    assert await count_rows(runtime, table) == 1


async def test_a_retried_statement_that_cannot_run_in_a_transaction_still_runs(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """A block with `retries` runs each attempt in a transaction of its own; a
    statement PostgreSQL refuses inside one (VACUUM) runs as before."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int)")
    wf = write_workflow(
        f"""
        name: audit_vacuum_retries
        blocks:
          start: {{type: manual}}
          vacuum: {{type: database, retries: 2, query: "VACUUM {table}"}}
        edges: [start -> vacuum]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["vacuum"]["attempts"] == 1


async def test_a_handled_failure_in_a_group_neither_commits_its_statement_nor_breaks_the_commit(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """`on_error: continue` on a member: the failed member leaves no trace and the
    group's other members commit (the run goes on, as the user asked)."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    wf = write_workflow(
        f"""
        name: audit_group_continue
        blocks:
          start: {{type: manual}}
          first: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (1)"}}
          dup:
            type: database
            transaction: g
            on_error: continue
            query: INSERT INTO {table} VALUES (2), (1)
          last: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (3)"}}
        edges: [start -> first, first -> dup, dup -> last]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["dup"]["status"] == "failed"
    rows = await runtime.db.pool.fetch(f"SELECT id FROM {table} ORDER BY id")
    assert [r["id"] for r in rows] == [1, 3]


async def test_a_group_with_a_skipped_member_commits_before_the_blocks_after_it(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """A member on the branch a condition did not take settles as skipped: the group
    commits once the others are done, before any block downstream of it starts
    (here a block on its own connection reads the committed row)."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int)")
    wf = write_workflow(
        f"""
        name: audit_group_skip
        blocks:
          start: {{type: manual}}
          ins: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (1)"}}
          route: {{type: condition, if: "False"}}
          never: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (2)"}}
          seen: {{type: database, query: "SELECT count(*) AS n FROM {table}"}}
        edges: [start -> ins, ins -> route, route.true -> never, route.false -> seen]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["never"]["status"] == "skipped"
    assert result["output"]["n"] == 1
    types = [e["type"] for e in await runtime.run_events(result["execution_id"])]
    assert types.count("transaction_committed") == 1


# -- a group whose COMMIT fails ---------------------------------------------------------


async def test_a_failed_commit_keeps_the_run_log_and_records_no_commit(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """A deferred constraint fails at COMMIT. The run fails, nothing is committed,
    and the events buffered up to then (written on the group's connection inside
    the transaction that rolled back) are not lost: a re-run must know what ran."""
    await runtime.db.pool.execute(
        f"CREATE TABLE {table} (id int UNIQUE DEFERRABLE INITIALLY DEFERRED)"
    )
    wf = write_workflow(
        f"""
        name: audit_commit_fails
        blocks:
          start: {{type: manual}}
          a: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (1)"}}
          b: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (1)"}}
        edges: [start -> a, a -> b]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "failed"
    assert result["error"]["type"] == "GroupNotCommitted"
    assert result["error"]["message"].startswith("transaction group 'g' did not commit: ")
    assert "23505" in result["error"]["message"]
    assert "(id)=(1)" not in result["error"]["message"]  # the server's detail quotes values
    assert await count_rows(runtime, table) == 0
    events = await runtime.run_events(result["execution_id"])
    types = [(e["type"], e["block"]) for e in events]
    assert ("block_succeeded", "start") in types
    assert ("block_succeeded", "b") in types
    assert not any(t == "transaction_committed" for t, _ in types)
    # Nothing of the rolled-back group may be carried over by a re-run.
    kept = restorable(wf.plan, events)
    assert "a" not in kept and "b" not in kept


async def test_a_group_that_could_not_commit_is_never_logged_committed(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """Members in a parallel body insert rows whose deferred foreign key fails at
    COMMIT: the group cannot commit and the run fails. The log must not then say the
    group committed, or a re-run would carry the rolled-back work over and lose it."""
    pool = runtime.db.pool
    await pool.execute(
        f"CREATE TABLE {table}_parent (id int PRIMARY KEY); INSERT INTO {table}_parent VALUES (1), (2);"
        f"CREATE TABLE {table} (id int REFERENCES {table}_parent DEFERRABLE INITIALLY DEFERRED)"
    )
    wf = write_workflow(
        f"""
        name: audit_aborted_group
        blocks:
          start: {{type: manual}}
          fan:
            type: parallel
            items: [1, 2, 3]
            as: n
            body: [ins]
          ins:
            type: database
            transaction: g
            query: INSERT INTO {table} VALUES (<n>)
        edges: [start -> fan]
        """
    )
    first = await runtime.execute(wf, {})
    assert first["status"] == "failed"
    assert first["error"]["type"] == "GroupNotCommitted"
    assert await count_rows(runtime, table) == 0
    types = [e["type"] for e in await runtime.run_events(first["execution_id"])]
    assert "transaction_committed" not in types
    await pool.execute(f"INSERT INTO {table}_parent VALUES (3)")
    sub = await runtime.rerun(first["execution_id"])
    again = await runtime.wait(sub.execution_id, timeout=30)
    assert again["status"] == "succeeded", again["error"]
    assert await count_rows(runtime, table) == 3


# -- re-runs ------------------------------------------------------------------------------


async def test_a_rerun_records_the_commit_of_a_nested_group_it_carries_over(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """A group whose members are in a loop body commits once the loop has settled.
    A re-run that carries the loop over must record that commit, or whoever executes
    or resumes the re-run from its events (a queue worker, the engine process, a
    restart) runs the loop again and appends every row a second time."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int)")
    wf = write_workflow(
        f"""
        name: audit_nested_rerun
        blocks:
          start: {{type: manual}}
          each:
            type: loop
            items: [1, 2, 3]
            as: n
            body: [ins]
          ins:
            type: database
            transaction: g
            query: INSERT INTO {table} VALUES (<n>)
        edges: [start -> each]
        """
    )
    first = await runtime.execute(wf, {})
    assert first["status"] == "succeeded", first["error"]
    sub = await runtime.rerun(first["execution_id"])
    again = await runtime.wait(sub.execution_id, timeout=30)
    assert again["status"] == "succeeded"
    assert await count_rows(runtime, table) == 3
    # What a resume (or another process) of the re-run would keep:
    kept = restorable(wf.plan, await runtime.run_events(sub.execution_id))
    assert "each" in kept


# -- cancellation ---------------------------------------------------------------------
