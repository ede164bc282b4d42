"""Transaction groups with members inside loop and parallel bodies: a member's failure
that the run goes on from (a container's `on_error: continue`) is undone alone, and
the group commits the rest.

Each test runs the real engine on the embedded PostgreSQL, with a recording HTTP
peer on 127.0.0.1 where a block downstream has an effect outside the run.
"""

from __future__ import annotations

from collections.abc import Callable

from db_helpers import count_rows
from standins.recording import RecordingServer

from engine.model import Workflow
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
