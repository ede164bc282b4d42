"""`POST /api/workflows/<name>/runs` honours an `Idempotency-Key` header.

It was ignored: a client that timed out waiting for the 202 of a payment run and
sent the request again, with the same key, as clients of Stripe-like APIs do, started
a second run (a second capture). A key now names one run, with a webhook's rules: the
same input again is answered with that run (`duplicate`), another input is a 409."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient
from processes import eventually


def test_the_same_key_and_input_are_answered_with_the_first_run(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    keyed = {**auth, "Idempotency-Key": f"pay-{uuid.uuid4()}"}
    first = client.post("/api/workflows/hello/runs", json={"x": 1}, headers=keyed)
    assert first.status_code == 202, first.get_json()
    eid = first.get_json()["execution_id"]
    assert "duplicate" not in first.get_json()
    again = client.post("/api/workflows/hello/runs", json={"x": 1}, headers=keyed)
    assert again.status_code == 202
    assert again.get_json()["execution_id"] == eid and again.get_json()["duplicate"] is True
    # Waited for, the repeat answers with that run's result.
    waited = client.post("/api/workflows/hello/runs?wait=1", json={"x": 1}, headers=keyed)
    assert waited.status_code == 200
    assert waited.get_json()["execution_id"] == eid and waited.get_json()["status"] == "succeeded"
    # Another input under the key is refused: nothing starts.
    other = client.post("/api/workflows/hello/runs", json={"x": 2}, headers=keyed)
    assert other.status_code == 409 and other.get_json()["execution_id"] == eid
    runs = client.get("/api/runs?workflow=hello&limit=20", headers=auth).get_json()["runs"]
    assert [r["execution_id"] for r in runs].count(eid) == 1
    # Without a key (or an empty one) each request is a run of its own.
    plain = [
        client.post("/api/workflows/hello/runs", json={"x": 1}, headers=h).get_json()
        for h in (auth, auth, {**auth, "Idempotency-Key": ""})
    ]
    assert len({p["execution_id"] for p in plain} | {eid}) == 4


def test_a_key_the_database_cannot_hold_is_a_400(client: FlaskClient, auth: dict[str, str]) -> None:
    # PostgreSQL text holds no NUL: it was the run's INSERT failing, a 500.
    resp = client.post(
        "/api/workflows/hello/runs", json={}, headers={**auth, "Idempotency-Key": "a\x00b"}
    )
    assert resp.status_code == 400
    assert "Idempotency-Key" in resp.get_json()["error"]


FAILING = """\
version: 1
name: {name}
blocks:
  start: {{type: manual}}
  charge:
    type: function
    code: |
      import time
      if <workflow.rerun_of>:
          time.sleep(2)  # a re-run still going when the client resends
      if <start.fail?>:
          raise ValueError("declined")
      return {{"charged": <start.amount>}}
edges: [start -> charge]
"""


def _wait_ended(client: FlaskClient, auth: dict[str, str], eid: str) -> None:
    assert eventually(
        lambda: (
            client.get(f"/api/runs/{eid}", headers=auth).get_json()["status"]
            in ("succeeded", "failed", "cancelled")
        )
    )


def test_a_rerun_resent_with_the_same_key_is_the_first_rerun(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    """A re-run resent after its answer was lost ran the failed block again in a second
    re-run (a second capture): with the same key it is the re-run the first started,
    whether that one is still going or has ended."""
    name = f"charge_{uuid.uuid4().hex[:8]}"
    scratch(name, FAILING)
    url = f"/api/workflows/{name}/runs?wait=1"
    failed = [
        client.post(url, json={"amount": 5, "fail": True}, headers=auth).get_json()["execution_id"]
        for _ in range(2)
    ]
    keyed = {**auth, "Idempotency-Key": "rerun-once"}
    first = client.post(f"/api/runs/{failed[0]}/rerun", json={}, headers=keyed)
    assert first.status_code == 202 and "duplicate" not in first.get_json()
    rerun = first.get_json()["execution_id"]
    # At once (the re-run may still be going) and after it ended: the same re-run.
    for _ in range(2):
        again = client.post(f"/api/runs/{failed[0]}/rerun", json={}, headers=keyed)
        assert again.status_code == 202, again.get_json()
        assert again.get_json()["execution_id"] == rerun and again.get_json()["duplicate"] is True
        _wait_ended(client, auth, rerun)
    # Asked for another kind of re-run (every block again), it is another request.
    full = client.post(f"/api/runs/{failed[0]}/rerun", json={"from_failed": False}, headers=keyed)
    assert full.status_code == 202 and "duplicate" not in full.get_json()
    assert full.get_json()["from_failed"] is False
    _wait_ended(client, auth, full.get_json()["execution_id"])
    # The key names a re-run of that run: the same key on another run is its own re-run.
    other = client.post(f"/api/runs/{failed[1]}/rerun", json={}, headers=keyed)
    assert other.status_code == 202 and "duplicate" not in other.get_json()
    assert other.get_json()["execution_id"] != rerun
    runs = client.get(f"/api/runs?workflow={name}", headers=auth).get_json()["runs"]
    assert len(runs) == 5
