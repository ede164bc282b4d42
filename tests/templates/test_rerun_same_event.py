"""A re-run of a delivery that carried no event id is the same event (both variants).

Black-box report: a payment_received posted with no event_id and no Idempotency-Key,
then re-run with every block again (POST /api/runs/<id>/rerun {"from_failed": false}),
was appended a second time under an id derived from the re-run's own execution id,
captured again under a new Idempotency-Key and announced to Slack again. The id is
derived from the run a re-run repeats (<workflow.rerun_of>), so the re-run finds the
stored event and applies, captures and announces nothing twice."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from es_support import calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

from blocks.webhook import accept
from engine.rerun_names import RerunNamesItself

PATHS = ("orders/events", "orders/agent-events")


@pytest.fixture(params=PATHS)
def variant(request: pytest.FixtureRequest, es_runtime: Any) -> tuple[Any, str]:
    """(runtime, webhook path) for Order Processing and its Agent variant."""
    if request.param == "orders/agent-events":
        return request.getfixturevalue("agent_workflows"), request.param
    return es_runtime, request.param


async def payments(rt: Any, order: str) -> list[Any]:
    return await rt.db.pool.fetch(
        "SELECT event_id, aggregate_version, metadata FROM events"
        " WHERE aggregate_id = $1 AND event_type = 'payment_received'",
        order,
    )


async def test_a_rerun_of_every_block_appends_and_captures_nothing_twice(
    variant: tuple[Any, str], httpserver: HTTPServer
) -> None:
    rt, path = variant
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)
    resp = await accept(  # no event_id, no Idempotency-Key, no webhook-id
        rt, path, "POST", {"Content-Type": "application/json"}, {}, json.dumps(paid).encode()
    )
    assert resp.status == 202, resp.body
    first = await rt.wait(resp.body["execution_id"], timeout=60)
    assert first["status"] == "succeeded", first["error"]
    [event] = await payments(rt, order)
    captures = len(calls(httpserver, "/v1/charges/ch_123/capture"))
    slack = len(calls(httpserver, "/slack/hook"))

    again = await rt.wait((await rt.rerun(first["execution_id"], from_failed=False)).execution_id)
    assert again["status"] == "succeeded", again["error"]
    assert again["output"]["duplicate"] is True
    assert again["output"]["event_id"] == str(event["event_id"])
    # From the failed block (the run page's Re-run of a run that succeeded): every record
    # that can be reused is, `capture`'s too (the stand-in echoes no secret).
    rerun = await rt.wait((await rt.rerun(first["execution_id"])).execution_id)
    assert rerun["status"] == "succeeded", rerun["error"]
    assert rerun["output"] == first["output"]
    # A re-run of the re-run: still that event.
    third = await rt.wait((await rt.rerun(again["execution_id"], from_failed=False)).execution_id)
    assert third["status"] == "succeeded", third["error"]
    assert third["output"]["event_id"] == str(event["event_id"])

    assert [e["event_id"] for e in await payments(rt, order)] == [event["event_id"]]
    assert len(calls(httpserver, "/v1/charges/ch_123/capture")) == captures
    assert len(calls(httpserver, "/slack/hook")) == slack
    # Stored by the first run, and named after it.
    metadata = event["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    assert metadata["workflow_execution_id"] == first["execution_id"]


async def test_a_run_of_a_copy_from_before_rerun_of_is_not_rerun_as_a_new_event(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    """A copy made before `enrich` read <workflow.rerun_of> derives the event id of a
    delivery without one from <workflow.execution_id>. Its runs keep that version: a
    re-run of one appended the payment again and captured it again, also once the
    file was edited. Refused; asked for, the edited file is the same delivery."""
    rt = es_runtime
    stand_ins(httpserver)
    source = (rt.workflows_dir / "order_processing.yaml").read_text()
    derived = "<workflow.rerun_of> or <workflow.execution_id>"
    assert source.count(derived) == 1
    copy = source.replace("path: orders/events", "path: orders/earlier-copy", 1).replace(
        "name: Order Processing with Event Sourcing", "name: order_processing_earlier", 1
    )
    path = rt.workflows_dir / "order_processing_earlier.yaml"
    # Before <workflow.rerun_of> existed nothing read it: nor did a re-run ask
    # `is_rerun` (the condition the sending reads again by in this release), nor
    # `first_capture` (the capture's).
    asked = "if: <workflow.rerun_of> is not None"
    first_capture = "if: <workflow.rerun_of> is None"
    assert copy.count(asked) == 1 and copy.count(first_capture) == 1
    before = copy.replace(asked, "if: False").replace(first_capture, "if: True")
    path.write_text(before.replace(derived, "<workflow.execution_id>"))
    try:
        order = f"ord-{uuid.uuid4().hex[:8]}"
        created, paid = lifecycle(order)[:2]
        await deliver(rt, created, path="orders/earlier-copy")
        resp = await accept(  # no event_id, no Idempotency-Key, no webhook-id
            rt, "orders/earlier-copy", "POST", {"Content-Type": "application/json"}, {},
            json.dumps(paid).encode(),
        )  # fmt: skip
        first = await rt.wait(resp.body["execution_id"], timeout=60)
        assert first["status"] == "succeeded", first["error"]
        [event] = await payments(rt, order)
        captures = len(calls(httpserver, "/v1/charges/ch_123/capture"))

        with pytest.raises(RerunNamesItself) as refused:
            await rt.rerun(first["execution_id"], from_failed=False)
        assert refused.value.blocks == ["enrich"]
        assert [e["event_id"] for e in await payments(rt, order)] == [event["event_id"]]

        path.write_text(copy)  # the edit docs/event-sourcing.md gives
        now = rt.load_workflow("order_processing_earlier")
        sub = await rt.rerun(first["execution_id"], from_failed=False, workflow=now)
        again = await rt.wait(sub.execution_id, timeout=60)
        assert again["status"] == "succeeded", again["error"]
        assert again["output"]["duplicate"] is True
        assert again["output"]["event_id"] == str(event["event_id"])
        assert [e["event_id"] for e in await payments(rt, order)] == [event["event_id"]]
        assert len(calls(httpserver, "/v1/charges/ch_123/capture")) == captures
    finally:
        path.unlink()
