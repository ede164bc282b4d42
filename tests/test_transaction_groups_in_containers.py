"""Transaction groups with members inside loop and parallel bodies: a member's failure
that the run goes on from (a container's `on_error: continue`) is undone alone, and
the group commits the rest once the outermost container holding its members (and
its other members) has settled, before the blocks after it start.

Each test runs the real engine on the embedded PostgreSQL, with a recording HTTP
peer on 127.0.0.1 where a block downstream has an effect outside the run.
"""

from __future__ import annotations

from collections.abc import Callable

from db_helpers import count_rows
from standins.recording import RecordingServer

from engine.model import Workflow
from engine.recovery import restorable
from engine.runtime import Runtime

# -- a failed member the run goes on from -----------------------------------------------


async def test_a_failed_branch_of_a_tolerant_parallel_leaves_the_group_committable(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """Two branches of a parallel with `on_error: continue` insert the same key in one
    group: one fails, the parallel goes on, and so does the run (here a notification
    goes out saying so). The failed insert must be undone alone: the group commits the
    other one, rather than the run failing at the end with "current transaction is
    aborted" after the notification was sent."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, side text)")
    with RecordingServer() as peer:
        wf = write_workflow(
            f"""
            name: group_tolerant_parallel
            blocks:
              start: {{type: manual}}
              both:
                type: parallel
                on_error: continue
                branches: {{left: [left], right: [right]}}
              left:
                type: database
                transaction: g
                query: INSERT INTO {table} VALUES (1, 'left')
              right:
                type: database
                transaction: g
                query: INSERT INTO {table} VALUES (1, 'right')
              notify:
                type: http
                method: POST
                url: "{peer.url}/notify"
                json: {{errors: "<both.errors>"}}
            edges: [start -> both, both -> notify]
            """
        )
        result = await runtime.execute(wf, {})
        assert result["status"] == "succeeded", result["error"]
        assert len(result["blocks"]["both"]["output"]["errors"]) == 1
        assert len(peer.requests_to("/notify")) == 1
    assert await count_rows(runtime, table) == 1


async def test_a_tolerant_loop_commits_the_iterations_before_the_failed_one(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """A loop with `on_error: continue` stops at the iteration whose insert fails and
    the run goes on: the iterations before it commit with the group."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int PRIMARY KEY)")
    wf = write_workflow(
        f"""
        name: group_tolerant_loop
        blocks:
          start: {{type: manual}}
          each:
            type: loop
            on_error: continue
            items: [1, 2, 1]
            as: n
            body: [ins]
          ins:
            type: database
            transaction: g
            query: INSERT INTO {table} VALUES (<n>)
          after: {{type: function, code: "return {{'went_on': True}}"}}
        edges: [start -> each, each -> after]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["each"]["status"] == "failed"
    assert result["blocks"]["after"]["status"] == "succeeded"
    rows = await runtime.db.pool.fetch(f"SELECT id FROM {table} ORDER BY id")
    assert [r["id"] for r in rows] == [1, 2]


# -- when a group with members in bodies commits ----------------------------------------


async def test_a_group_in_a_parallel_commits_before_the_blocks_after_the_parallel(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """The group's last members are the parallel's branches: it commits once the
    parallel has settled, before the blocks after it start. Those read the transfer,
    and an update of a row the group wrote does not wait on the group's row lock
    (committed only at the end of the run, it waited on the run itself until its
    statement timed out, and the transfer rolled back)."""
    pool = runtime.db.pool
    await pool.execute(
        f"CREATE TABLE {table} (name text PRIMARY KEY, balance int, audited bool DEFAULT false);"
        f"INSERT INTO {table} (name, balance) VALUES ('alice', 100), ('bob', 0)"
    )
    wf = write_workflow(
        f"""
        name: group_parallel_transfer
        blocks:
          start: {{type: manual}}
          transfer:
            type: parallel
            branches: {{debit: [debit], credit: [credit]}}
          debit:
            type: database
            transaction: xfer
            query: UPDATE {table} SET balance = balance - 30 WHERE name = 'alice'
          credit:
            type: database
            transaction: xfer
            query: UPDATE {table} SET balance = balance + 30 WHERE name = 'bob'
          check:
            type: database
            query: SELECT string_agg(name || '=' || balance, ',' ORDER BY name) AS seen FROM {table}
          audit:
            type: database
            timeout: 10
            query: UPDATE {table} SET audited = true WHERE name = 'alice'
        edges: [start -> transfer, transfer -> check, check -> audit]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["blocks"]["check"]["output"]["seen"] == "alice=70,bob=30"
    assert result["status"] == "succeeded", result["error"]
    rows = await pool.fetch(f"SELECT name, balance, audited FROM {table} ORDER BY name")
    assert [tuple(r) for r in rows] == [("alice", 70, True), ("bob", 30, False)]
    # The commit is logged where it happened, so a resume from a crash after it keeps
    # the parallel (and does not transfer twice).
    events = await runtime.run_events(result["execution_id"])
    order = [(e["type"], e["block"]) for e in events]
    assert order.index(("transaction_committed", None)) < order.index(("block_started", "check"))
    cut = events[: order.index(("block_started", "check"))]
    assert {"transfer", "transfer[debit].debit", "transfer[credit].credit"} <= set(
        restorable(wf.plan, cut)
    )


async def test_a_group_commits_after_its_last_member_whether_in_a_body_or_not(
    runtime: Runtime, write_workflow: Callable[..., Workflow], table: str
) -> None:
    """Members in a loop nested in a parallel, and one more after the parallel: the
    group commits once that last one has settled — not when the parallel has (a
    block between them reads nothing of it) and not at the end of the run (a block
    after the last member reads it all)."""
    await runtime.db.pool.execute(f"CREATE TABLE {table} (id int)")
    count = f"SELECT count(*) AS n FROM {table}"
    wf = write_workflow(
        f"""
        name: group_nested_then_top
        blocks:
          start: {{type: manual}}
          fan:
            type: parallel
            branches: {{many: [each], one: [single]}}
          each:
            type: loop
            items: [1, 2, 3]
            as: n
            body: [ins]
          ins: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (<n>)"}}
          single: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (10)"}}
          between: {{type: database, query: "{count}"}}
          close: {{type: database, transaction: g, query: "INSERT INTO {table} VALUES (99)"}}
          after: {{type: database, query: "{count}"}}
        edges: [start -> fan, fan -> between, between -> close, close -> after]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["between"]["output"]["n"] == 0
    assert result["blocks"]["after"]["output"]["n"] == 5
    types = [e["type"] for e in await runtime.run_events(result["execution_id"])]
    assert types.count("transaction_committed") == 1
