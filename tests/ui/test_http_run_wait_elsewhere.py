"""`POST /api/workflows/<name>/runs?wait=1` answers the SPEC's run result wherever the
run executes: in the server (`serve`), in its engine process (`serve
--engine-process`) or in a worker (`serve --no-worker` + `flowyard worker`).

The other processes' answer was the run's stored record (`Runtime.wait` read it
back): `trigger`, `created_at`, `file` with the server's absolute path, `input`, and
per block `started_at`, `inputs`, `port`, `reused_from`, `rolled_back`. Real
processes on the session's PostgreSQL; the in-process answer is the `client`
fixture's (tests/ui/conftest.py).

A mapping written in a workflow keeps its key order there too: those processes
rebuild the workflow from its stored version (`flowyard_workflow_versions.source`),
which was jsonb: a loop over `{zzz: 2, a: 1, cc: 3}` went a, cc, zzz, and the run's
`output:` mapping came back with its keys in that order.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from processes import free_port, start, stop

ROOT = Path(__file__).resolve().parents[2]

#: A taken and an untaken branch, a transaction group undone by a failure, a block
#: never reached: every status a block of an ended run can have.
SHAPES = """\
name: {name}
blocks:
  start: {{type: manual}}
  route: {{type: condition, if: "<start.n> > 0"}}
  read: {{type: database, transaction: g, query: "SELECT 1 AS one"}}
  untaken: {{type: function, isolation: inline, code: "return 2"}}
  boom: {{type: database, transaction: g, query: "SELECT 1 / 0 AS x"}}
  never: {{type: function, isolation: inline, code: "return 3"}}
edges: [start -> route, route.true -> read, route.false -> untaken, read -> boom, boom -> never]
"""
#: Neither sorted nor in jsonb's order (shorter keys first): any reordering shows.
ORDER = ["zzz", "a", "cc"]
LITERAL = """\
name: {name}
blocks:
  start: {{type: manual}}
  each: {{type: loop, items: {{zzz: 2, a: 1, cc: 3}}, body: [key]}}
  key: {{type: function, isolation: inline, code: "return <item.key>"}}
edges: [start -> each]
output: {{zzz: <each.results>, a: 1, cc: <start.n>}}
"""
#: The run's input: a mapping whose key order jsonb would change (shorter keys first).
INPUT = {"n": 1, "prices": {"zzz": 2, "a": 1, "cc": 3}}
LINKS = ("status_url", "stream_url", "run_url")
#: What differs from one run to the next; the rest of the answer must not.
PER_RUN = ("execution_id", "started_at", "finished_at", *LINKS)


@pytest.fixture(scope="module")
def workflow_name() -> str:
    return f"wait_shape_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def in_process(
    client: FlaskClient, auth: dict[str, str], workflows_dir: Path, workflow_name: str
) -> dict[str, Any]:
    """The answer of a server that runs what it accepts."""
    path = workflows_dir / f"{workflow_name}.yaml"
    path.write_text(SHAPES.format(name=workflow_name))
    try:
        answer = client.post(
            f"/api/workflows/{workflow_name}/runs?wait=1", json=INPUT, headers=auth
        )
    finally:
        path.unlink()
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


TOPOLOGIES = {
    "engine-process": [["serve", "--engine-process"]],
    "worker": [["serve", "--no-worker"], ["worker", "--concurrency", "2"]],
}


@pytest.fixture(scope="module", params=list(TOPOLOGIES))
def elsewhere(
    request: pytest.FixtureRequest,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    workflow_name: str,
) -> Iterator[httpx.Client]:
    """A server whose runs execute in another process, and a client of it; it serves
    SHAPES as ``workflow_name`` and LITERAL as ``<workflow_name>_literal``."""
    tmp_path = tmp_path_factory.mktemp("elsewhere")
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / f"{workflow_name}.yaml").write_text(SHAPES.format(name=workflow_name))
    literal = f"{workflow_name}_literal"
    (workflows / f"{literal}.yaml").write_text(LITERAL.format(name=literal))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "wait-token",
        "FLOWYARD_QUEUE": f"ws-{uuid.uuid4().hex[:8]}",  # no other test's worker
        "PYTHONPATH": str(ROOT),
    }
    commands = TOPOLOGIES[request.param]
    procs = [
        start(
            [*args, *(["--port", str(port)] if args[0] == "serve" else [])],
            env,
            tmp_path,
            tmp_path / f"{i}.log",
        )
        for i, args in enumerate(commands)
    ]
    headers = {"Authorization": "Bearer wait-token"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
            _until_healthy(http, procs[0], tmp_path / "0.log")
            yield http
    finally:
        stop(procs)


def _until_healthy(http: httpx.Client, server: Any, log: Path) -> None:
    """Wait (up to 60 s: a safety limit, not a timing assertion) for /api/health."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if http.get("/api/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the server never answered: {log.read_text()[-3000:]}")


def _without_per_run(result: dict[str, Any]) -> dict[str, Any]:
    same = {k: v for k, v in result.items() if k not in PER_RUN}
    same["blocks"] = {
        bid: {k: v for k, v in rec.items() if k != "duration_ms"}
        for bid, rec in result["blocks"].items()
    }
    return same


def test_a_run_executed_elsewhere_is_answered_as_one_executed_here(
    in_process: dict[str, Any], elsewhere: httpx.Client, workflow_name: str
) -> None:
    answer = elsewhere.post(f"/api/workflows/{workflow_name}/runs?wait=1", json=INPUT)
    assert answer.status_code == 200, answer.text
    there = answer.json()
    # The SPEC's run result (SPEC.md, "Run result") and the links, in this order.
    keys = ["execution_id", "workflow", "status", "started_at", "finished_at", "output", "error"]
    assert list(there) == list(in_process) == [*keys, "blocks", *LINKS]
    assert {bid: list(rec) for bid, rec in there["blocks"].items()} == {
        bid: list(rec) for bid, rec in in_process["blocks"].items()
    }
    assert there["blocks"]["read"]["rolled_back"] is True  # where it applies, as here
    assert "rolled_back" not in there["blocks"]["start"]
    assert _without_per_run(there) == _without_per_run(in_process)
    # The input's keys in the order sent: the other process read it back from the
    # run log, where jsonb had sorted them (a, cc, zzz).
    for answered in (there, in_process):
        assert list(answered["blocks"]["start"]["output"]["prices"]) == ["zzz", "a", "cc"]
    assert there["status_url"] == f"/api/runs/{there['execution_id']}"


def test_a_literal_mapping_keeps_its_order_in_the_process_that_executes_the_run(
    elsewhere: httpx.Client, workflow_name: str
) -> None:
    answer = elsewhere.post(f"/api/workflows/{workflow_name}_literal/runs?wait=1", json={"n": 3})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == "succeeded", result["error"]
    # The loop went over the literal mapping as written...
    assert [each["result"] for each in result["output"]["zzz"]] == ORDER
    # ...and the workflow's output mapping has its keys as written.
    assert list(result["output"]) == ORDER
    # The stored run says the same (GET /api/runs/<id>, read back from the log).
    stored = elsewhere.get(f"/api/runs/{result['execution_id']}").json()
    assert list(stored["output"]) == ORDER
    assert [each["result"] for each in stored["output"]["zzz"]] == ORDER
