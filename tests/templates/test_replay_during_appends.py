"""Replay Events run while an order's events are being appended.

Black-box report D9: the stream and the snapshot were read on different
connections at different moments, so an event committed in between looked like
a snapshot ahead of its events: a false mismatch recorded in
``consistency_checks`` (the compliance view) and alerted to Slack."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from es_support import SNAPSHOT_EVERY, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

from templates.event_store import append_batch


@pytest.mark.parametrize("workflow", ["replay_events", "replay_events_agent"])
async def test_an_append_committing_during_a_replay_is_no_mismatch(
    agent_workflows: Any, httpserver: HTTPServer, workflow: str
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0])
    for i in range(SNAPSHOT_EVERY - 2):  # no kept snapshot: every replay folds them all
        await deliver(rt, {"event_type": "item_added", "order_id": order, "sku": f"S{i}"})
    pool = rt.db.pool
    for delay in (0.01, 0.05, 0.1, 0.2, 0.4):
        # An append holding the order's lock, committed while the replay runs.
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            item = {"event_type": "item_added", "aggregate_id": order, "data": {"sku": "late"}}
            assert await append_batch(conn, [item], snapshot_every=1000) == 1
            run = asyncio.create_task(rt.execute(rt.load_workflow(workflow), {"order_id": order}))
            await asyncio.sleep(delay)
            await tx.commit()
        result = await run
        assert result["status"] == "succeeded", result["error"]
        out = result["output"]
        assert out["checked"] is True and out["consistent"] is True, (delay, out["version"])
    failed = await pool.fetchval(
        "SELECT count(*) FROM consistency_checks WHERE order_id = $1 AND NOT consistent", order
    )
    assert failed == 0
