"""The SSE stream delivers a run's events in order and ends after the final one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient


def _parse(stream: str) -> list[tuple[str, dict]]:
    out = []
    for chunk in stream.split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in chunk.splitlines()
            if ": " in line and not line.startswith(":")
        )
        if "data" in fields:
            out.append((fields.get("event", "message"), json.loads(fields["data"])))
    return out


def test_stream_delivers_block_events_in_order(client: FlaskClient, auth: dict[str, str]) -> None:
    eid = client.post("/api/workflows/looper/runs", json={}, headers=auth).get_json()[
        "execution_id"
    ]
    resp = client.get(f"/api/runs/{eid}/stream", headers=auth)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    events = _parse(resp.get_data(as_text=True))  # the test client reads until the stream ends
    assert events[-1][0] == "end"
    run_events = [data for kind, data in events if kind == "run_event"]
    seqs = [e["seq"] for e in run_events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and seqs[0] == 1
    types = [e["type"] for e in run_events]
    assert types[0] == "run_queued" and types[-1] == "run_succeeded"
    started = {e["block"]: i for i, e in enumerate(run_events) if e["type"] == "block_started"}
    done = {e["block"]: i for i, e in enumerate(run_events) if e["type"] == "block_succeeded"}
    assert {"start", "fold", "fold[0].square", "fold[1].square", "fold[2].square"} <= set(done)
    assert all(started[b] < done[b] for b in done)
    assert (
        done["start"]
        < started["fold"]
        < done["fold[0].square"]
        < done["fold[2].square"]
        < done["fold"]
    )


def test_stream_resumes_after_last_event_id(client: FlaskClient, auth: dict[str, str]) -> None:
    eid = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()[
        "execution_id"
    ]
    full = [
        d
        for k, d in _parse(
            client.get(f"/api/runs/{eid}/stream", headers=auth).get_data(as_text=True)
        )
        if k == "run_event"
    ]
    tail = client.get(
        f"/api/runs/{eid}/stream", headers={**auth, "Last-Event-ID": str(full[3]["seq"])}
    )
    rest = [d for k, d in _parse(tail.get_data(as_text=True)) if k == "run_event"]
    assert [e["seq"] for e in rest] == [e["seq"] for e in full[4:]]


@pytest.mark.parametrize("after", ["x", "zz", "1.5", "3abc"])
def test_an_after_that_is_not_a_whole_number_is_400(
    client: FlaskClient, auth: dict[str, str], after: str
) -> None:
    """`?after=x` started from 0 — another page than the one asked for — while a bad
    `?limit=` was a 400."""
    eid = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()[
        "execution_id"
    ]
    for suffix in ("events", "stream"):
        resp = client.get(f"/api/runs/{eid}/{suffix}?after={after}", headers=auth)
        assert resp.status_code == 400, (suffix, resp.get_data(as_text=True))
        assert resp.get_json() == {
            "error": f"after is a run event's seq, a whole number, not {after!r}"
        }
    ok = client.get(f"/api/runs/{eid}/events?after=3", headers=auth).get_json()["events"]
    assert ok and ok[0]["seq"] == 4


def test_a_bad_last_event_id_is_ignored_for_after(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    """The browser sends `Last-Event-ID` by itself on a reconnect: a bad one is not a
    400 (EventSource would stop for good), the stream goes on from `?after=`."""
    eid = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()[
        "execution_id"
    ]
    resp = client.get(
        f"/api/runs/{eid}/stream?after=2", headers={**auth, "Last-Event-ID": "garbage"}
    )
    assert resp.status_code == 200
    seqs = [d["seq"] for k, d in _parse(resp.get_data(as_text=True)) if k == "run_event"]
    assert seqs[0] == 3


@pytest.mark.parametrize("after", ["2147483648", "99999999999999999999999"])
def test_an_after_past_every_seq_answers_no_events(
    client: FlaskClient, auth: dict[str, str], after: str
) -> None:
    """An `after` past a seq's range (an INTEGER column) was a 500 from the driver
    (the stream: a 200 cut short); there are no events after it."""
    eid = client.post("/api/workflows/hello/runs?wait=1", json={}, headers=auth).get_json()[
        "execution_id"
    ]
    resp = client.get(f"/api/runs/{eid}/events?after={after}", headers=auth)
    assert resp.status_code == 200 and resp.get_json()["events"] == []
    for headers in ({}, {"Last-Event-ID": after}):
        resp = client.get(f"/api/runs/{eid}/stream?after={after}", headers={**auth, **headers})
        assert resp.status_code == 200
        kinds = [k for k, _ in _parse(resp.get_data(as_text=True))]
        assert "run_event" not in kinds and kinds[-1] == "end", kinds


def test_stream_of_unknown_run_is_404(client: FlaskClient, auth: dict[str, str]) -> None:
    assert (
        client.get(
            "/api/runs/00000000-0000-0000-0000-000000000000/stream", headers=auth
        ).status_code
        == 404
    )


def test_streams_past_the_cap_answer_what_there_is_and_close(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Any, monkeypatch: Any
) -> None:
    """Open streams hold a server thread each; past half the threads a stream answers
    the events there are and closes (the browser reconnects from the last one), so
    viewers of a live run cannot take the threads webhooks need."""
    import threading

    from ui import long_requests

    gate = workflows_dir / "stream_gate"
    (workflows_dir / "stream_held.yaml").write_text(
        "name: stream_held\nblocks:\n  start: {type: manual}\n  hold:\n    type: function\n"
        "    timeout: 60\n    code: |\n      import os, time\n"
        f"      while not os.path.exists({str(gate)!r}):\n          time.sleep(0.05)\n"
        "      return 1\nedges: [start -> hold]\n"
    )
    one = threading.BoundedSemaphore(1)
    monkeypatch.setattr(long_requests, "slots", lambda: one)
    try:
        started = client.post("/api/workflows/stream_held/runs", json={}, headers=auth)
        assert started.status_code == 202, started.get_json()
        eid = started.get_json()["execution_id"]
        held = client.get(f"/api/runs/{eid}/stream", headers=auth, buffered=False)
        chunks = iter(held.response)
        assert "retry: 1000" in next(chunks).decode()  # this one holds the one slot
        short = client.get(f"/api/runs/{eid}/stream", headers=auth)  # returns: not held
        text = short.get_data(as_text=True)
        assert text.startswith("retry: 2000") and "event: end" not in text
        assert [e["seq"] for _, e in _parse(text)][:1] == [1]  # what there was, from the start
        held.close()  # the slot is free again
        gate.write_text("open")
        again = client.get(f"/api/runs/{eid}/stream", headers=auth)
        assert _parse(again.get_data(as_text=True))[-1][0] == "end"
    finally:
        gate.write_text("open")
        (workflows_dir / "stream_held.yaml").unlink()
