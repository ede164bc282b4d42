"""`POST /api/workflows/<name>/runs` honours an `Idempotency-Key` header.

It was ignored: a client that timed out waiting for the 202 of a payment run and
sent the request again, with the same key, as clients of Stripe-like APIs do, started
a second run (a second capture). A key now names one run, with a webhook's rules: the
same input again is answered with that run (`duplicate`), another input is a 409."""

from __future__ import annotations

import uuid

from flask.testing import FlaskClient


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
