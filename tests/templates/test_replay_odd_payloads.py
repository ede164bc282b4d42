"""A stored event whose `data` or `metadata` is not a JSON object is replayed, not raised.

Black-box report: an event stored with data `5`, data `"x"` or metadata `[1]` (by
another writer, or a hand edit) crashed Replay Events in the fold (`AttributeError:
'int' object has no attribute 'items'` in fold[2].step), although the reducer is
total (docs/event-sourcing.md: data a handler cannot use is kept in
`state.anomalies`, never raised). Such an event is now an anomaly naming what is
wrong, and the order can be checked and repaired like any other. Replay Events
(Agent) folds with the same reducer the events its model must not guess at (a version
newer than the reducer reads), where such an event's odd metadata crashed its fold too.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from es_support import StandInModel, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

ODD = {
    "data 5": ("5", "{}", "data is a int, not an object"),
    'data "x"': ('"x"', "{}", "data is a str, not an object"),
    "data []": ("[]", "{}", "data is a list, not an object"),
    "metadata [1]": ('{"sku": "Z"}', "[1]", "metadata is a list, not an object: ignored"),
    "metadata 5": ('{"sku": "Z"}', "5", "metadata is a int, not an object: ignored"),
}


async def replay(rt: Any, **input: Any) -> dict[str, Any]:
    result = await rt.execute(rt.load_workflow("replay_events"), input)
    assert result["status"] == "succeeded", json.dumps(result["error"])
    return result["output"]


@pytest.mark.parametrize("case", sorted(ODD))
async def test_an_event_whose_payload_is_not_an_object_is_an_anomaly(
    es_runtime: Any, httpserver: HTTPServer, case: str
) -> None:
    stand_ins(httpserver)
    data, metadata, reason = ODD[case]
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order)[:1]:
        await deliver(es_runtime, ev)
    event_id = uuid.uuid4()
    # Written by another writer, without Order Processing's snapshot.
    await es_runtime.db.pool.execute(
        "INSERT INTO events (event_id, event_type, aggregate_id, aggregate_version, data,"
        " metadata) VALUES ($1, 'item_added', $2, 2, $3::text::jsonb, $4::text::jsonb)",
        event_id,
        order,
        data,
        metadata,
    )
    out = await replay(es_runtime, order_id=order)
    assert out["events"] == 2 and out["consistent"] is False  # the snapshot lags: version 1
    found = [a for a in out["state"]["anomalies"] if a["event_id"] == str(event_id)]
    assert [reason in a["reason"] for a in found] == [True], found
    applied = "metadata" in case  # odd metadata is ignored, the item is still added
    assert [i.get("sku") for i in out["state"]["items"]] == ["A", "Z"] if applied else ["A"]
    fixed = await replay(es_runtime, order_id=order, repair=True)
    assert fixed["repaired"] is True and fixed["repair_refused"] is None
    assert (await replay(es_runtime, order_id=order))["consistent"] is True


@pytest.mark.parametrize("case", sorted(c for c in ODD if c.startswith("metadata")))
async def test_the_agent_variant_s_reducer_replays_odd_metadata_it_cannot_read(
    agent_workflows: Any, httpserver: HTTPServer, stand_in_model: StandInModel, case: str
) -> None:
    rt = agent_workflows
    stand_ins(httpserver)
    data, metadata, reason = ODD[case]
    order = f"ord-{uuid.uuid4().hex[:8]}"
    await deliver(rt, lifecycle(order)[0])
    event_id = uuid.uuid4()
    # item_added v2: newer than the reducer reads, so the reducer folds it, not the model.
    await rt.db.pool.execute(
        "INSERT INTO events (event_id, event_type, event_version, aggregate_id,"
        " aggregate_version, data, metadata)"
        " VALUES ($1, 'item_added', 2, $2, 2, $3::text::jsonb, $4::text::jsonb)",
        event_id,
        order,
        data,
        metadata,
    )
    stand_in_model.twist = lambda ev, state: {
        "state": {**state, "status": "guessed"} if ev["event_type"] == "item_added" else state
    }
    result = await rt.execute(rt.load_workflow("replay_events_agent"), {"order_id": order})
    assert result["status"] == "succeeded", json.dumps(result["error"])
    out = result["output"]
    assert out["events"] == 2 and out["consistent"] is False  # the snapshot lags: version 1
    assert out["state"]["status"] == "pending" and len(out["state"]["items"]) == 1
    found = [a["reason"] for a in out["state"]["anomalies"] if a["event_id"] == str(event_id)]
    assert any("newer than this reducer reads" in r for r in found) and reason in found, found
