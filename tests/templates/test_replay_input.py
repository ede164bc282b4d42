"""Replay Events' input, in both variants: every `as_of` its input_schema accepts
either replays or is refused before any SQL with a message naming `as_of`, and a
`version` past the events table's BIGINT is refused by the schema (the API's 422
and the manual trigger both check it). A tester found these ending in a
DatabaseError that quoted the whole query, or "value out of int64 range"."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from es_support import deliver, lifecycle, stand_ins
from pytest_httpserver import HTTPServer

from blocks.manual import run_input_problems
from templates import instantiate

REPLAYS = ("replay_events", "replay_events_agent")
BIGINT_MAX = 9223372036854775807


@pytest.fixture
def replays(es_runtime: Any) -> Any:
    """The runtime, with the agent variant next to Replay Events. These inputs fold
    no events through it (or none at all), so no model is ever asked."""
    if not (es_runtime.workflows_dir / "replay_events_agent.yaml").exists():
        instantiate("replay_events_agent", es_runtime.workflows_dir)
    return es_runtime


async def run(rt: Any, workflow: str, **input: Any) -> dict[str, Any]:
    return await rt.execute(rt.load_workflow(workflow), input)


async def new_order(rt: Any, httpserver: HTTPServer) -> str:
    stand_ins(httpserver)
    order = f"ord-{uuid.uuid4().hex[:8]}"
    for ev in lifecycle(order):
        await deliver(rt, ev)
    return order


@pytest.mark.parametrize("workflow", REPLAYS)
async def test_lower_case_t_and_z_are_read_as_rfc_3339(
    replays: Any, httpserver: HTTPServer, workflow: str
) -> None:
    order = await new_order(replays, httpserver)
    # Before the first event: nothing folded (so the agent variant asks no model),
    # which also proves the time was read, not ignored.
    before = await run(replays, workflow, order_id=order, as_of="2000-01-02t10:00z")
    assert before["status"] == "succeeded", before["error"]
    assert before["output"]["events"] == 0 and before["output"]["state"] is None
    if workflow == "replay_events":
        after = await run(replays, workflow, order_id=order, as_of="2999-01-02t10:00:00.5z")
        assert after["status"] == "succeeded", after["error"]
        assert after["output"]["events"] == 4 and after["output"]["checked"] is True


@pytest.mark.parametrize("workflow", REPLAYS)
@pytest.mark.parametrize(
    ("as_of", "why"),
    [
        ("2030-13-45T99:99:99Z", "month must be in 1..12"),
        ("2030-02-30T10:00:00Z", "day is out of range for month"),
        ("2030-01-02T24:30Z", "hour must be in 0..23"),
        ("2030-01-02T10:00:00+99:00", "the offset +99:00 is not between"),
        ("2030-01-02T10:00:00+05:99", "the offset +05:99 is not between"),  # not +06:39
        ("0000-01-02T10:00:00Z", "year 0 is out of range"),
        # In UTC these are in years 10000 and 0: PostgreSQL refused them quoting the query.
        ("9999-12-31T23:59:59-23:59", "in UTC it is outside the years 1 to 9999"),
        ("0001-01-01T00:00:00+23:59", "in UTC it is outside the years 1 to 9999"),
    ],
)
async def test_a_time_that_does_not_exist_is_refused_before_any_sql(
    replays: Any, workflow: str, as_of: str, why: str
) -> None:
    wf = replays.load_workflow(workflow)
    assert run_input_problems(wf, {"order_id": "o1", "as_of": as_of}) == []  # the pattern passes it
    result = await run(replays, workflow, order_id="o1", as_of=as_of)
    assert result["status"] == "failed"
    error = result["error"]
    assert error["block"] == "check_input", error
    assert error["message"].startswith(f"as_of {as_of!r} is not a real time"), error["message"]
    assert why in error["message"] and "SELECT" not in error["message"]
    ran = [b for b, rec in result["blocks"].items() if rec.get("status") not in (None, "pending")]
    assert not any(b.startswith("load_") for b in ran), ran


@pytest.mark.parametrize("workflow", REPLAYS)
async def test_a_version_past_bigint_is_refused_by_the_schema(replays: Any, workflow: str) -> None:
    wf = replays.load_workflow(workflow)
    # The API answers 422 with these problems before any run starts.
    too_big = {"order_id": "o1", "version": 99999999999999999999}
    assert run_input_problems(wf, too_big) == [
        f"version: 99999999999999999999 is greater than the maximum of {BIGINT_MAX}"
    ]
    assert run_input_problems(wf, {"order_id": "o1", "version": BIGINT_MAX}) == []
    # A run started any other way (CLI, editor) is refused by the trigger, no SQL run.
    result = await run(replays, workflow, **too_big)
    assert result["status"] == "failed" and result["error"]["block"] == "start"
    assert "version" in result["error"]["message"] and "int64" not in result["error"]["message"]
    edge = await run(replays, workflow, order_id="no-such-order", version=BIGINT_MAX)
    assert edge["status"] == "succeeded", edge["error"]
    assert edge["output"]["events"] == 0


@pytest.mark.parametrize("workflow", REPLAYS)
async def test_a_numeric_order_id_replays_the_order_order_processing_stored(
    replays: Any, httpserver: HTTPServer, workflow: str
) -> None:
    """Order Processing stores order 42 as "42"; Replay Events refused 42 (422)."""
    stand_ins(httpserver)
    number = int(uuid.uuid4().int % 10**12)
    for ev in lifecycle(str(number))[:2]:
        await deliver(replays, {**ev, "order_id": number})
    assert run_input_problems(replays.load_workflow(workflow), {"order_id": number}) == []
    assert run_input_problems(replays.load_workflow(workflow), {"order_id": True}) != []
    if workflow == "replay_events":  # the agent variant would ask the model to fold
        result = await run(replays, workflow, order_id=number)
        assert result["status"] == "succeeded", result["error"]
        assert result["output"]["events"] == 2 and result["output"]["consistent"] is True


@pytest.mark.parametrize("workflow", REPLAYS)
async def test_a_whole_float_order_id_is_its_digits_and_a_float_past_2_53_is_refused(
    replays: Any, httpserver: HTTPServer, workflow: str
) -> None:
    """42.0 is an integer to the input_schema, but the queries looked for order
    "42.0": `found: false` for an order that exists."""
    stand_ins(httpserver)
    number = int(uuid.uuid4().int % 10**12)
    for ev in lifecycle(str(number))[:2]:
        await deliver(replays, {**ev, "order_id": number})
    wf = replays.load_workflow(workflow)
    assert run_input_problems(wf, {"order_id": float(number)}) == []
    # version 0: nothing folded, so the agent variant asks no model either.
    result = await run(replays, workflow, order_id=float(number), version=0)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["found"] is True
    if workflow == "replay_events":
        head = await run(replays, workflow, order_id=float(number))
        assert head["output"]["events"] == 2 and head["output"]["consistent"] is True
    assert run_input_problems(wf, {"order_id": 42.5}) != []  # not an integer: a 422
    past = await run(replays, workflow, order_id=1e20)
    assert past["status"] == "failed" and past["error"]["block"] == "check_input"
    assert past["error"]["message"].startswith(
        "order_id 1e+20 is past 9007199254740991 and has a fraction or an exponent"
    ), past["error"]["message"]
