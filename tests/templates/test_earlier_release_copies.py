"""Copies of the templates made by earlier releases run on the current ``lib/``.

``workflows/lib/`` is shared by every copy of a folder, and any ``flowyard new``
replaces its unedited files with the current ones (docs/templates.md), while the
workflow files copied before stay as they were. Black-box report: after `flowyard new
replay_events rp2` in a workspace of schema version 3 (release e003c3a), every
payment of its Order Processing copy failed in `capture` (`reference
<enrich.stripe_api_base> has no field 'stripe_api_base' in <enrich>`): the new
``order_intake.read_event`` no longer returned a field the old workflow reads.

The workflow files of earlier releases are kept here as they shipped
(``earlier_release/<template>.<commit>.yaml``, from ``git show
<commit>:templates/<template>/workflow.yaml``) and run through the real engine,
PostgreSQL and stand-in peers against the current ``templates/lib``: a change to
``lib/`` that breaks a copy an earlier release made fails here.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from es_support import calls, deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

EARLIER_RELEASE = Path(__file__).resolve().parent / "earlier_release"

#: Releases whose copies must keep working: 63674be (its workflows import
#: ``capture_refusal``, ``read_envelope`` and ``read_version`` from ``order_events``),
#: e003c3a (schema version 3) and 030a3fb (schema version 6).
RELEASES = ("63674be", "e003c3a", "030a3fb")

#: The releases whose ``enrich`` reads the event with the lib's
#: ``order_intake.read_event`` (63674be's reads it in its own code, so its events
#: carry no rules version).
READ_BY_THE_LIB = ("e003c3a", "030a3fb")

CAPTURE = "/v1/charges/ch_123/capture"


def install(workflows: Path, template: str, release: str) -> str:
    """Put ``template`` as ``release`` shipped it into ``workflows`` beside the
    current copies, as `flowyard new` would have copied it then, its webhook path and
    ``name:`` moved aside (they would clash with the current copy's). Returns its
    stem: its name for ``load_workflow``, and its webhook's path is ``<stem>/events``."""
    stem = f"{template}_{release}"
    target = workflows / f"{stem}.yaml"
    if not target.exists():
        text = (EARLIER_RELEASE / f"{template}.{release}.yaml").read_text(encoding="utf-8")
        name = text.splitlines()[1]
        assert name.startswith("name: "), name
        text = text.replace(name, f"{name} ({release})", 1)
        for path in ("orders/events", "orders/agent-events"):
            text = text.replace(f"    path: {path}\n", f"    path: {stem}/events\n", 1)
        target.write_text(text, encoding="utf-8")
    return stem


@pytest.fixture
def rt(request: pytest.FixtureRequest, template: str) -> Any:
    """The module's runtime; for an Agent variant, with its model stand-in."""
    return request.getfixturevalue("agent_workflows" if "agent" in template else "es_runtime")


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("template", ["order_processing", "order_processing_agent"])
async def test_an_order_processing_copy_of_an_earlier_release_captures_with_the_current_lib(
    rt: Any, httpserver: HTTPServer, template: str, release: str
) -> None:
    stand_ins(httpserver)
    path = install(rt.workflows_dir, template, release) + "/events"
    order = f"ord-{release}-{uuid.uuid4().hex[:8]}"
    results = [await deliver(rt, event, path=path) for event in lifecycle(order)]
    assert [r["output"]["status"] for r in results] == ["pending", "paid", "shipped", "delivered"]
    assert results[1]["output"]["capture"] == "succeeded"
    assert len(calls(httpserver, CAPTURE)) == 1
    stored = await rt.db.pool.fetchval(
        "SELECT status FROM event_correlations c JOIN events e USING (event_id)"
        " WHERE e.aggregate_id = $1",
        order,
    )
    assert stored == "succeeded"


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("template", ["replay_events", "replay_events_agent"])
async def test_a_replay_events_copy_of_an_earlier_release_replays_with_the_current_lib(
    rt: Any, httpserver: HTTPServer, template: str, release: str
) -> None:
    stand_ins(httpserver)
    order = f"ord-{release}-{uuid.uuid4().hex[:8]}"
    for event in lifecycle(order):
        await deliver(rt, event)
    result = await rt.execute(
        rt.load_workflow(install(rt.workflows_dir, template, release)), {"order_id": order}
    )
    assert result["status"] == "succeeded", result["error"]
    out = result["output"]
    assert out["state"]["status"] == "delivered" and out["events"] == 4
    assert out["checked"] is True and out["consistent"] is True


@pytest.mark.parametrize("release", READ_BY_THE_LIB)
@pytest.mark.parametrize("template", ["order_processing", "order_processing_agent"])
async def test_an_earlier_release_copy_checks_the_payment_but_its_slack_note_does_not_say_so(
    rt: Any, httpserver: HTTPServer, template: str, release: str
) -> None:
    """What the README's "Rules versions" and docs/event-sourcing.md say of such a
    copy (report bb83): its `enrich` is the current lib's, so its events are stored
    under the current rules and a payment that is not the order's total is listed in
    `state.anomalies`; but its `correlate` (or its own Slack step) does not carry
    that to Slack, which still says "ready for fulfillment"."""
    stand_ins(httpserver)
    path = install(rt.workflows_dir, template, release) + "/events"
    order = f"amt-{release}-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    await deliver(rt, created, path=path)
    out = (await deliver(rt, {**paid, "amount_cents": 900}, path=path))["output"]
    assert out["capture"] == "succeeded"
    rules, state = await rt.db.pool.fetchrow(
        "SELECT e.metadata->'rules', s.state FROM events e JOIN order_snapshots s"
        " ON s.order_id = e.aggregate_id WHERE e.event_id = $1",
        uuid.UUID(out["event_id"]),
    )
    assert rules == 2
    assert {
        "event_id": out["event_id"],
        "reason": "payment_received amount_cents 900 is not the order's total_cents 1250",
    } in state["anomalies"]
    [note] = [t for r in calls(httpserver, "/slack/hook") if order in (t := r.get_json()["text"])]
    assert note == f"Order {order} is paid (charge ch_123): ready for fulfillment."
