"""A run's log is answered in pages bounded by size as well as by count: a loop whose
body returns 100 KB made one /events page (10,000 events) 300 MB, and the run
viewer's stream read the same pages (real engine, real embedded PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient
from test_http_stream import _parse

from engine.run_reads import PAGE_CHARS

FAT = """
name: "{name}"
blocks:
  start: {{type: manual}}
  rounds:
    type: loop
    count: 200
    body: [step]
    collect: false
  step:
    type: function
    isolation: inline
    code: |
      return {{"text": "z" * 100000}}
edges: [start -> rounds]
output: <rounds.iterations>
"""


def test_event_pages_are_bounded_by_size_and_lose_nothing(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    scratch("fat_body_loop", FAT)
    done = client.post("/api/workflows/fat_body_loop/runs?wait=1", json={}, headers=auth)
    assert done.status_code == 200, done.get_data(as_text=True)
    eid = done.get_json()["execution_id"]
    seqs, pages, after = [], 0, 0
    while True:
        resp = client.get(f"/api/runs/{eid}/events?after={after}", headers=auth)
        assert resp.status_code == 200
        # One page held all ~20 MB of the run's events before.
        assert len(resp.get_data()) < PAGE_CHARS + 300_000
        body = resp.get_json()
        seqs += [e["seq"] for e in body["events"]]
        pages += 1
        if "next_after" not in body:
            break
        after = body["next_after"]
    assert pages >= 3
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) == 2 * 200 + 7  # two per iteration, the run's and its blocks' own
    streamed = _parse(client.get(f"/api/runs/{eid}/stream", headers=auth).get_data(as_text=True))
    assert streamed[-1][0] == "end"
    assert [d["seq"] for kind, d in streamed if kind == "run_event"] == seqs
    assert json.dumps(streamed[-2][1]).count("run_succeeded") == 1
