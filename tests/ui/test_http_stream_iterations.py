"""`GET /api/runs/<id>/stream?iterations=N`: the events of each container's first N
iterations only, failures wherever they are, and a `read_to` past what was not sent.

The run viewer shows the first 100 iterations of a container, but its stream sent
every event of the run: a loop of 100,000 iterations was 200,000 events, 40 s and
150 MB of the page's memory before it had drawn the run (real embedded PostgreSQL;
the page's side: tests/ui/test_pages_run_viewer.py).
"""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.ui.pages_support import write_workflow
from tests.ui.test_http_stream import _parse
from ui import api_runs, long_requests

#: A loop of 250 iterations whose iteration 180 fails (and goes on), its body a
#: Function and a nested loop of 2 (so paths hold two indexes: `lp[7].inner[1].x`).
LOOP = """\
version: 1
name: {name}
blocks:
  start: {{type: manual}}
  lp: {{type: loop, count: 250, body: [sq, inner]}}
  sq:
    type: function
    isolation: inline
    on_error: continue
    code: |
      if <loop.index> == 180:
          raise ValueError("odd one")
      return <loop.index>
  inner: {{type: loop, count: 2, body: [x]}}
  x: {{type: function, isolation: inline, code: "return 1"}}
edges: [start -> lp, sq -> inner]
"""


@pytest.fixture
def run_of_a_long_loop(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path
) -> tuple[str, str]:
    name = f"long_loop_{uuid.uuid4().hex[:8]}"
    write_workflow(workflows_dir, name, LOOP.format(name=name))
    resp = client.post(f"/api/workflows/{name}/runs?wait=1", json={}, headers=auth)
    assert resp.get_json()["status"] == "succeeded", resp.get_json()
    return name, resp.get_json()["execution_id"]


def _indexes(path: str) -> list[int]:
    return [int(i) for i in re.findall(r"\[(\d+)\]", path)]


def test_only_the_first_iterations_and_the_failures_are_sent(
    client: FlaskClient, auth: dict[str, str], run_of_a_long_loop: tuple[str, str]
) -> None:
    _, eid = run_of_a_long_loop
    every = _parse(client.get(f"/api/runs/{eid}/stream", headers=auth).get_data(as_text=True))
    some = _parse(
        client.get(f"/api/runs/{eid}/stream?iterations=100", headers=auth).get_data(as_text=True)
    )
    all_events = [d for k, d in every if k == "run_event"]
    sent = [d for k, d in some if k == "run_event"]
    assert some[-1][0] == "end" and sent[-1]["type"] == "run_succeeded"
    paths = {e["block"] for e in sent if e["block"]}
    assert {"start", "lp", "lp[99].sq", "lp[99].inner[1].x", "lp[180].sq"} <= paths
    assert all(max(_indexes(p), default=0) < 100 for p in paths - {"lp[180].sq"})
    failed = [e for e in sent if e["block"] == "lp[180].sq"]
    assert [e["type"] for e in failed] == ["block_failed"]
    assert failed[0]["data"]["error"]["message"].startswith("odd one")
    # Every event of the first 100 iterations and of the run itself, in order.
    wanted = [e for e in all_events if max(_indexes(e["block"] or ""), default=0) < 100]
    assert [e["seq"] for e in sent if e["block"] != "lp[180].sq"] == [e["seq"] for e in wanted]
    assert len(sent) < len(all_events) / 2


def _stream(client: FlaskClient, auth: dict[str, str], eid: str, after: int = 0) -> list:
    url = f"/api/runs/{eid}/stream?iterations=100&after={after}"
    return _parse(client.get(url, headers=auth).get_data(as_text=True))


def test_pages_of_events_not_sent_are_read_past(
    client: FlaskClient,
    auth: dict[str, str],
    run_of_a_long_loop: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With pages of 50 events, most pages past iteration 99 send nothing: the stream
    reads on past them, and says how far (`read_to`) for a page reopening it."""
    _, eid = run_of_a_long_loop
    whole = [d["seq"] for k, d in _stream(client, auth, eid) if k == "run_event"]
    monkeypatch.setattr(api_runs, "EVENTS_PAGE", 50)
    paged = _stream(client, auth, eid)
    assert [d["seq"] for k, d in paged if k == "run_event"] == whole
    read_to = [d["seq"] for k, d in paged if k == "read_to"]
    assert len(read_to) > 10 and read_to == sorted(read_to)


def test_a_stream_answered_at_once_is_reopened_past_what_it_did_not_send(
    client: FlaskClient,
    auth: dict[str, str],
    run_of_a_long_loop: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every slot held: each stream answers one page and closes, and the page reopens
    it after the last event it got. A page of events not sent gave it none, so it
    asked for the same page again, for ever; `read_to` moves it on."""
    _, eid = run_of_a_long_loop
    whole = [d["seq"] for k, d in _stream(client, auth, eid) if k == "run_event"]
    monkeypatch.setattr(api_runs, "EVENTS_PAGE", 50)
    held = threading.BoundedSemaphore(1)
    held.acquire()
    monkeypatch.setattr(long_requests, "slots", lambda: held)
    got, after = [], 0
    for _ in range(200):
        answer = _stream(client, auth, eid, after)
        got += [d["seq"] for k, d in answer if k == "run_event"]
        if answer and answer[-1][0] == "end":
            break
        after = max([after, *(d["seq"] for _, d in answer)])
    else:
        raise AssertionError(f"no end after 200 answers, at seq {after}")
    assert got == whole


@pytest.mark.parametrize("iterations", ["0", "-1", "x", "1.5", "١٠"])
def test_iterations_is_a_whole_number_from_one(
    client: FlaskClient, auth: dict[str, str], run_of_a_long_loop: tuple[str, str], iterations: str
) -> None:
    _, eid = run_of_a_long_loop
    resp = client.get(f"/api/runs/{eid}/stream?iterations={iterations}", headers=auth)
    assert resp.status_code == 400 and "iterations" in resp.get_json()["error"]


@pytest.mark.parametrize("iterations", [str(2**63), "9" * 5000])
def test_more_iterations_than_any_loop_has_sends_every_event(
    client: FlaskClient, auth: dict[str, str], run_of_a_long_loop: tuple[str, str], iterations: str
) -> None:
    """Past Python's int() limit (4300 digits) the route answered 500; past a bigint,
    PostgreSQL refused the parameter."""
    _, eid = run_of_a_long_loop
    every = _parse(client.get(f"/api/runs/{eid}/stream", headers=auth).get_data(as_text=True))
    resp = client.get(f"/api/runs/{eid}/stream?iterations={iterations}", headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert _parse(resp.get_data(as_text=True)) == every
