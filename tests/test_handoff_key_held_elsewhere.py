"""`serve --engine-process`: a run handed to the engine process waits while an earlier
run of its ``concurrency_key`` is still held by another process.

Found under load: `serve` was killed (SIGKILL) while its engine process ran an
order's `order_created` with the order's next events chained behind it; that engine
process went on for ~10 s before it noticed its parent was gone. The restarted serve's
new engine process took the order's next delivery (`order_delivered`) at once, knowing
nothing of the runs the old one held, and stored it as the order's version 2, before
`item_added`, `payment_received` and `order_shipped`: a stream out of lifecycle order.
Now a handed-over run is claimed only once no earlier run of its key is held by
another owner (it finished, or this process took it over and chained it).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from held_runs import until

from engine.handoff import take_handoffs
from engine.runtime import Runtime

STEP = """
name: {name}
blocks:
  start: {{type: manual}}
  step:
    type: function
    code: |
      return {{"n": <start.n>}}
edges: [start -> step]
"""


async def test_a_handed_over_run_waits_for_its_keys_run_held_by_another_process(
    workspace: Path, database_url: str, write_workflow, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")  # no other session's engine
    tag = uuid.uuid4().hex[:8]
    wf = write_workflow(STEP.format(name=f"held_{tag}"))
    key = f"order:{tag}"
    args = (workspace / "workflows", database_url, workspace)
    server = Runtime(*args, function_workers=1, resume=False, queue=True, local=False)
    server.handoff = True
    engine = Runtime(*args, function_workers=1, resume=False)
    await server.start()
    await engine.start()
    taking = None
    try:
        # The key's first run, held by another engine process that still runs it (a
        # predecessor not yet gone: another owner, beating).
        first = await server.submit(wf, {"n": 1}, concurrency_key=key)
        pool = server.db.log_pool
        await pool.execute(
            "UPDATE flowyard_runs SET owner = 'elsewhere:1:1', status = 'running',"
            " heartbeat_at = now() WHERE execution_id = $1::uuid",
            first.execution_id,
        )
        taking = asyncio.create_task(take_handoffs(engine))
        later = await server.submit(wf, {"n": 2}, concurrency_key=key)
        # A run of another key, accepted after it: once it ended, the engine had
        # claimed `later` too, had it taken it.
        other = await server.submit(wf, {"n": 3}, concurrency_key=f"other:{tag}")
        assert (await server.wait(other.execution_id, timeout=60))["status"] == "succeeded"
        row = await pool.fetchrow(
            "SELECT owner, status FROM flowyard_runs WHERE execution_id = $1::uuid",
            later.execution_id,
        )
        assert (row["owner"], row["status"]) == ("handoff", "queued")

        # The first run ends where it runs: the key's next run goes on.
        await pool.execute(
            "UPDATE flowyard_runs SET status = 'succeeded', finished_at = now()"
            " WHERE execution_id = $1::uuid",
            first.execution_id,
        )

        async def later_ended() -> bool:
            status = await pool.fetchval(
                "SELECT status FROM flowyard_runs WHERE execution_id = $1::uuid",
                later.execution_id,
            )
            return status == "succeeded"

        assert await until(later_ended, attempts=600), "the key's next run never ran"
    finally:
        if taking is not None:
            taking.cancel()
            await asyncio.gather(taking, return_exceptions=True)
        await engine.close()
        await server.close()
