"""The payment capture of Order Processing (both variants): what reaches the
processor, when, and what the run, Slack and ``event_correlations`` say about it.

Black-box report D1: a ``charge_id`` such as ``ch_victim/refund?amount=99999&x=``
was put into the capture URL as it was, so a webhook body could aim a POST
carrying the shop's secret key at any path of the processor's API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from es_support import lifecycle, stand_ins, submit
from pytest_httpserver import HTTPServer

from templates import instantiate

PATHS = ("orders/events", "orders/agent-events")


@pytest.fixture
def both(es_runtime: Any) -> Any:
    """The runtime, with the agent variant next to Order Processing (these
    bodies fail before its model step, so no model is asked)."""
    if not (es_runtime.workflows_dir / "order_processing_agent.yaml").exists():
        instantiate("order_processing_agent", es_runtime.workflows_dir)
    return es_runtime


def processor_calls(httpserver: HTTPServer) -> list[str]:
    return [req.full_path for req, _ in httpserver.log if req.path.startswith("/v1/")]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "charge_id",
    [
        "ch_victim/refund?amount=99999&x=",
        "../../v1/refunds?charge=ch_x&",
        "ch_victim#",
        "ch victim",
        "ch_%2F",
        "",
        42,
        None,
    ],
)
async def test_a_charge_id_that_is_not_a_plain_id_is_refused_before_anything_is_sent(
    both: Any, httpserver: HTTPServer, path: str, charge_id: Any
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    paid = {**lifecycle(order)[1], "charge_id": charge_id}
    result = await submit(both, paid, path=path)
    assert result["status"] == "failed"
    assert result["error"]["block"] == "enrich"
    assert (
        "charge_id must be a processor id of letters, digits and underscores"
        in (result["error"]["message"])
    )
    assert "not appended" in result["error"]["message"]
    assert processor_calls(httpserver) == []
    stored = await both.db.pool.fetchval(
        "SELECT count(*) FROM events WHERE aggregate_id = $1", order
    )
    assert stored == 0


async def test_a_plain_charge_id_is_captured_at_its_own_path(
    es_runtime: Any, httpserver: HTTPServer
) -> None:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    created, paid = lifecycle(order)[:2]
    for ev in (created, paid):
        assert (await submit(es_runtime, ev))["status"] == "succeeded"
    assert processor_calls(httpserver) == ["/v1/charges/ch_123/capture?"]
