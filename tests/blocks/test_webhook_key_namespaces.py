"""Each trigger block is a namespace of idempotency keys of its own.

A workflow's keys were one namespace for all its trigger blocks: a webhook delivery
sent with ``Idempotency-Key: schedule:<workflow>:<tick>`` (a key anyone can predict)
took that tick's key, and the tick never ran, silently; and of two webhook blocks,
one's event was refused (409) or answered with the other's run (``duplicate``) when
their senders' ids were equal. Now a key is looked up among the runs of its own
trigger block only — and keys stored before the upgrade are still found by the
delivery they came from.

``accept`` is what the Flask route calls, on a real runtime (real PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from db_helpers import new_database

from blocks.schedule import Scheduler, tick_key
from blocks.webhook import accept
from engine.runtime import Runtime

UTC = dt.UTC

#: The report's `mix`: a schedule every minute and a webhook, a branch each.
MIX = """
name: NAME
blocks:
  tick: {type: schedule, cron: "* * * * *", catch_up: false}
  hook: {type: webhook, path: test/NAME}
  from_tick: {type: function, code: "return {'from': 'tick'}"}
  from_hook: {type: function, code: "return {'from': 'hook'}"}
edges: [tick -> from_tick, hook -> from_hook]
"""

#: The report's `two`: two providers' webhooks, each keyed by its own event id.
TWO = """
name: NAME
blocks:
  stripe: {type: webhook, path: test/NAME/stripe, idempotency_key: <stripe.body.id>}
  shop: {type: webhook, path: test/NAME/shop, idempotency_key: <shop.body.id>}
  from_stripe: {type: function, code: "return {'stripe': input.stripe.body.type}"}
  from_shop: {type: function, code: "return {'shop': input.shop.body.type}"}
edges: [stripe -> from_stripe, shop -> from_shop]
"""


async def _deliver(rt: Any, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await accept(rt, path, "POST", headers, {}, json.dumps(body).encode())


def _scheduler(runtime: Any, workflow: str, now: dt.datetime) -> Scheduler:
    """A scheduler that started at ``now`` and sees only this test's workflow."""
    scheduler = Scheduler(runtime)
    scheduler.rescan(now)
    for key in [k for k in scheduler.entries if k[0] != workflow]:
        del scheduler.entries[key]  # the folder is shared with other tests
    return scheduler


async def test_a_webhook_sent_with_a_ticks_key_does_not_cancel_the_tick(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(MIX)
    hook = f"test/{wf.name}"
    start = dt.datetime(2030, 1, 1, 0, 10, 38, tzinfo=UTC)
    scheduler = _scheduler(blocks_runtime, wf.name, start)
    ticks = [dt.datetime(2030, 1, 1, 0, m, tzinfo=UTC) for m in (11, 12)]
    evil = [await _deliver(blocks_runtime, hook, {"evil": 1}, tick_key(wf.name, t)) for t in ticks]
    assert [d.status for d in evil] == [202, 202]
    assert not any(d.body.get("duplicate") for d in evil)
    for delivery in evil:
        result = await blocks_runtime.wait(delivery.body["execution_id"], timeout=30)
        assert result["status"] == "succeeded", result["error"]
        assert result["output"] == {"from": "hook"}

    started = await scheduler.fire_due(ticks[0] + dt.timedelta(seconds=1))
    started += await scheduler.fire_due(ticks[1] + dt.timedelta(seconds=1))
    assert len(started) == 2  # both ticks ran, each a run of its own
    for eid in started:
        result = await blocks_runtime.wait(eid, timeout=30)
        assert result["status"] == "succeeded" and result["output"] == {"from": "tick"}
    keys = await blocks_runtime.db.pool.fetch(
        "SELECT trigger_block, idempotency_key FROM flowyard_runs WHERE workflow = $1"
        " ORDER BY created_at",
        wf.name,
    )
    # Each run keeps the key as it was sent: the user's, not a namespaced form.
    assert [tuple(r) for r in keys] == [
        ("hook", tick_key(wf.name, ticks[0])),
        ("hook", tick_key(wf.name, ticks[1])),
        ("tick", tick_key(wf.name, ticks[0])),
        ("tick", tick_key(wf.name, ticks[1])),
    ]

    # The other way round: a delivery after the tick is not answered with its run.
    late = await _deliver(blocks_runtime, hook, {"late": 1}, tick_key(wf.name, ticks[0]))
    assert late.status == 409  # the hook's own first delivery with that key, another body
    assert late.body["execution_id"] == evil[0].body["execution_id"]
    # And a resend of the first delivery is still its duplicate.
    again = await _deliver(blocks_runtime, hook, {"evil": 1}, tick_key(wf.name, ticks[0]))
    assert again.status == 202 and again.body["duplicate"] is True
    assert again.body["execution_id"] == evil[0].body["execution_id"]


async def test_two_webhook_blocks_do_not_swallow_each_others_events(
    blocks_runtime: Any, install_workflow: Any
) -> None:
    wf = install_workflow(TWO)
    stripe, shop = f"test/{wf.name}/stripe", f"test/{wf.name}/shop"
    charge = await _deliver(blocks_runtime, stripe, {"id": 12345, "type": "charge"})
    assert charge.status == 202 and "duplicate" not in charge.body

    order = await _deliver(blocks_runtime, shop, {"id": 12345, "type": "order"})
    assert order.status == 202, order.body  # was 409: the Stripe event's key
    assert "duplicate" not in order.body
    # Even the very same body: the shop's event is not answered with Stripe's run.
    other_charge = await _deliver(blocks_runtime, stripe, {"id": 67890, "type": "charge"})
    same_body = await _deliver(blocks_runtime, shop, {"id": 67890, "type": "charge"})
    assert same_body.status == 202 and "duplicate" not in same_body.body
    assert same_body.body["execution_id"] != other_charge.body["execution_id"]
    for delivery in (other_charge, same_body):
        await blocks_runtime.wait(delivery.body["execution_id"], timeout=30)
    lookalike = await _deliver(blocks_runtime, shop, {"id": 12345, "type": "charge"})
    # Within one block the rules hold: a different body under a used key is refused.
    assert lookalike.status == 409
    assert lookalike.body["execution_id"] == order.body["execution_id"]

    ids = [charge.body["execution_id"], order.body["execution_id"]]
    assert ids[0] != ids[1]
    results = [await blocks_runtime.wait(eid, timeout=30) for eid in ids]
    assert [r["output"] for r in results] == [{"stripe": "charge"}, {"shop": "order"}]
    # Each sender's resend is a duplicate of its own block's run.
    resent = [
        await _deliver(blocks_runtime, stripe, {"id": 12345, "type": "charge"}),
        await _deliver(blocks_runtime, shop, {"id": 12345, "type": "order"}),
    ]
    assert [(r.status, r.body["duplicate"], r.body["execution_id"]) for r in resent] == [
        (202, True, ids[0]),
        (202, True, ids[1]),
    ]

    # A run by hand with a key (an embedding caller's) is a namespace of its own too.
    by_hand = await blocks_runtime.submit(
        wf, {"body": {"type": "manual"}}, idempotency_key="12345",
        trigger_block="stripe",
    )  # fmt: skip
    assert by_hand.created and by_hand.execution_id not in ids
    twice = await blocks_runtime.submit(
        wf, {"body": {"type": "manual"}}, idempotency_key="12345",
        trigger_block="stripe",
    )  # fmt: skip
    assert (twice.execution_id, twice.created) == (by_hand.execution_id, False)
    await blocks_runtime.wait(by_hand.execution_id, timeout=30)


async def _as_before_the_upgrade(pool: Any) -> None:
    """The run log as schema version 7 left it: keys unique per workflow, whatever
    trigger block took them (the rows' keys, trigger and trigger block stay as they
    were written: the form both versions store)."""
    await pool.execute(
        "ALTER TABLE flowyard_runs DROP COLUMN key_scope;"
        "CREATE UNIQUE INDEX flowyard_runs_idempotency ON flowyard_runs"
        " (workflow, idempotency_key) WHERE idempotency_key IS NOT NULL;"
        "DELETE FROM flowyard_schema WHERE version > 7"
    )


async def test_a_delivery_accepted_before_the_upgrade_is_a_duplicate_after_it(
    database_url: str, workspace: Path, blocks_workflows: Path, install_workflow: Any
) -> None:
    url = await new_database(database_url, "keyscopes")
    wf = install_workflow(TWO)
    stripe, shop = f"test/{wf.name}/stripe", f"test/{wf.name}/shop"
    mix = install_workflow(MIX)
    hook = f"test/{mix.name}"

    before = Runtime(blocks_workflows, url, workspace, function_workers=1, resume=False)
    await before.start()
    try:
        charge = await _deliver(before, stripe, {"id": 1, "type": "charge"})
        # A delivery of a release before version 7, which kept no trigger block.
        early = await _deliver(before, hook, {"n": 1}, "evt-early")
        tick = await before.submit(mix, {}, trigger="schedule", idempotency_key="evt-tick")
        runs = [charge.body["execution_id"], early.body["execution_id"], tick.execution_id]
        for eid in runs:
            assert (await before.wait(eid, timeout=30))["status"] == "succeeded"
        await before.db.log_pool.execute(
            "UPDATE flowyard_runs SET trigger_block = NULL WHERE execution_id = ANY($1::uuid[])",
            runs[1:],
        )
        await _as_before_the_upgrade(before.db.log_pool)
    finally:
        await before.close()

    after = Runtime(blocks_workflows, url, workspace, function_workers=1, resume=False)
    await after.start()  # migrates
    try:
        resent = await _deliver(after, stripe, {"id": 1, "type": "charge"})
        assert (resent.status, resent.body.get("duplicate")) == (202, True), resent.body
        assert resent.body["execution_id"] == runs[0]
        resent_early = await _deliver(after, hook, {"n": 1}, "evt-early")
        assert (resent_early.status, resent_early.body.get("duplicate")) == (202, True)
        assert resent_early.body["execution_id"] == runs[1]
        changed = await _deliver(after, stripe, {"id": 1, "type": "refund"})
        assert changed.status == 409 and changed.body["execution_id"] == runs[0]

        # The stored keys now belong to their blocks: the shop's event 1 is its own.
        order = await _deliver(after, shop, {"id": 1, "type": "order"})
        assert order.status == 202 and "duplicate" not in order.body
        # An early run, whose block is unknown, keeps its kind: a webhook's key is
        # not a tick's, nor a tick's a webhook's.
        unlike = await _deliver(after, hook, {"n": 2}, "evt-tick")
        assert unlike.status == 202 and "duplicate" not in unlike.body
        ticked = await after.submit(mix, {}, trigger="schedule", idempotency_key="evt-early")
        assert ticked.created
        same_tick = await after.submit(mix, {}, trigger="schedule", idempotency_key="evt-tick")
        assert (same_tick.execution_id, same_tick.created) == (runs[2], False)
        for eid in (order.body["execution_id"], unlike.body["execution_id"], ticked.execution_id):
            await after.wait(eid, timeout=30)
        keys = await after.db.log_pool.fetch(
            "SELECT idempotency_key FROM flowyard_runs ORDER BY created_at"
        )
        # Shown as they were sent, before the upgrade and after it.
        assert [r["idempotency_key"] for r in keys] == [
            "1", "evt-early", "evt-tick", "1", "evt-tick", "evt-early",
        ]  # fmt: skip
    finally:
        await after.close()
