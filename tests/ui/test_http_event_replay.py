"""`POST /api/events/orders/<id>/replay`: the body is read and checked as a manual
run's input is (`POST /api/workflows/<name>/runs`), before any run is accepted.

It was read with `request.get_json(silent=True) or {}`: a JSON list was a 500, and a
form body, a misspelled key or a body sent as text/plain were taken for no point in
time, so the order's CURRENT state came back as if it were the one asked for. A bad
`as_of` or `version` started a run that failed. The order (tests/ui/conftest.py,
``order_id``) has three events: versions 1, 2 and 3.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from ui.bridge import EngineBridge


@pytest.fixture
def replay_url(client: FlaskClient, auth: dict[str, str], order_id: str) -> str:
    """A Replay Events workflow to run (409 when another test made it: as good)."""
    client.post(
        "/api/templates/replay_events/instantiate", json={"name": "replay_for_events"}, headers=auth
    )
    return f"/api/events/orders/{order_id}/replay"


def _replay_runs(bridge: EngineBridge) -> int:
    sql = "SELECT count(*) FROM flowyard_runs WHERE workflow = 'Replay Events'"
    return bridge.call(bridge.runtime.db.log_pool.fetchval(sql))


@pytest.mark.parametrize("body", [[1], "str", 5, True, None], ids=repr)
def test_a_body_that_is_not_an_object_is_a_400(
    client: FlaskClient,
    auth: dict[str, str],
    replay_url: str,
    engine_bridge: EngineBridge,
    body: Any,
) -> None:
    runs = _replay_runs(engine_bridge)
    answer = client.post(
        replay_url, data=json.dumps(body), content_type="application/json", headers=auth
    )
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json() == {"error": "the run input must be a JSON object"}
    assert _replay_runs(engine_bridge) == runs


def test_a_form_body_is_a_400_not_the_current_state(
    client: FlaskClient, auth: dict[str, str], replay_url: str, engine_bridge: EngineBridge
) -> None:
    runs = _replay_runs(engine_bridge)
    answer = client.post(replay_url, data={"as_of": "2000-01-01T00:00:00Z"}, headers=auth)
    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith("the body is not JSON")
    assert _replay_runs(engine_bridge) == runs


def test_json_sent_as_text_plain_is_read(
    client: FlaskClient, auth: dict[str, str], replay_url: str
) -> None:
    """As the runs route reads it (curl's -d, a fetch without a Content-Type)."""
    for asked, state in ((1, "pending"), (2, "paid")):
        body = json.dumps({"version": asked})
        answer = client.post(replay_url, data=body, content_type="text/plain", headers=auth)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        output = answer.get_json()["output"]
        assert (output["version"], output["state"]["status"]) == (asked, state)
    # A time before the order's first event: no state yet, not the current one.
    before = json.dumps({"as_of": "2000-01-01T00:00:00Z"})
    answer = client.post(replay_url, data=before, content_type="text/plain", headers=auth)
    assert answer.get_json()["output"]["version"] == 0


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"asof": "2000-01-01T00:00:00Z"}, "'asof'"),
        ({"version": 1, "verison": 2, "order_id": "x"}, "'order_id', 'verison'"),
    ],
)
def test_an_unknown_key_is_a_400_naming_it(
    client: FlaskClient,
    auth: dict[str, str],
    replay_url: str,
    engine_bridge: EngineBridge,
    body: dict[str, Any],
    named: str,
) -> None:
    runs = _replay_runs(engine_bridge)
    answer = client.post(replay_url, json=body, headers=auth)
    assert answer.status_code == 400
    assert f"unknown keys {named}:" in answer.get_json()["error"]
    assert _replay_runs(engine_bridge) == runs


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"as_of": "garbage"}, "as_of"),
        ({"as_of": "2020-01-01"}, "as_of"),  # no time, no offset
        ({"version": "abc"}, "version"),
        ({"version": -1}, "version"),
        ({"version": 1.5}, "version"),
    ],
)
def test_a_bad_point_in_time_is_a_422_and_no_run(
    client: FlaskClient,
    auth: dict[str, str],
    replay_url: str,
    engine_bridge: EngineBridge,
    body: dict[str, Any],
    field: str,
) -> None:
    """Refused against Replay Events' input_schema, as the runs route refuses an
    input: the same answer, and no failed run left behind."""
    runs = _replay_runs(engine_bridge)
    answer = client.post(replay_url, json=body, headers=auth)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    refused = answer.get_json()
    assert refused["error"] == "the input does not match the workflow's input_schema"
    assert [p.split(":")[0] for p in refused["problems"]] == [field]
    assert _replay_runs(engine_bridge) == runs
    # The runs route answers the same input the same way.
    same = client.post(
        "/api/workflows/replay_for_events/runs",
        json={"order_id": "x", **body},
        headers=auth,
    )
    assert (same.status_code, same.get_json()) == (422, refused)


@pytest.mark.parametrize(
    ("as_of", "why"),
    [
        ("2024-02-30T00:00:00Z", "day is out of range for month"),
        ("2024-01-01T23:59:60Z", "second must be in 0..59"),
        ("9999-12-31T23:59:59-23:59", "in UTC it is outside the years 1 to 9999"),
        ("2024-01-01T00:00:00+05:99", "the offset +05:99 is not between -23:59 and +23:59"),
    ],
)
def test_a_time_that_never_was_is_a_422_and_no_run(
    client: FlaskClient,
    auth: dict[str, str],
    replay_url: str,
    engine_bridge: EngineBridge,
    as_of: str,
    why: str,
) -> None:
    """The shape passes input_schema's pattern but no such time exists: it started a
    run that failed at check_input (a 200 {"status": "failed"}). Refused as
    check_input refuses it, before a run is recorded."""
    runs = _replay_runs(engine_bridge)
    answer = client.post(replay_url, json={"as_of": as_of}, headers=auth)
    assert answer.status_code == 422, answer.get_data(as_text=True)
    refused = answer.get_json()
    assert refused["error"] == "the input does not match the workflow's input_schema"
    assert refused["problems"] == [f"as_of: {as_of!r} is not a real time: {why}"]
    assert _replay_runs(engine_bridge) == runs


def test_null_and_empty_mean_now(
    client: FlaskClient, auth: dict[str, str], replay_url: str
) -> None:
    for kw in ({"json": {"as_of": None, "version": None}}, {"data": b""}):
        answer = client.post(replay_url, headers=auth, **kw)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.get_json()["output"]["version"] == 3


def test_an_order_with_no_events_is_not_answered_consistent(
    client: FlaskClient, auth: dict[str, str], replay_url: str, engine_bridge: EngineBridge
) -> None:
    """A mistyped order id answered `"consistent": true`, as if its check had passed.
    The same through the runs route (the editor's Run, `flowyard run`)."""
    order = f"typo-{uuid.uuid4().hex[:8]}"
    answers = [
        client.post(f"/api/events/orders/{order}/replay", json={}, headers=auth),
        client.post(
            "/api/workflows/replay_for_events/runs?wait=1", json={"order_id": order}, headers=auth
        ),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.get_data(as_text=True)
        output = answer.get_json()["output"]
        assert (output["found"], output["checked"], output["consistent"]) == (False, False, False)
        assert output["check_id"] is None
    sql = "SELECT count(*) FROM consistency_checks WHERE order_id = $1"
    assert engine_bridge.call(engine_bridge.runtime.db.pool.fetchval(sql, order)) == 0
