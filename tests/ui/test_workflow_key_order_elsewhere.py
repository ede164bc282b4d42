"""A mapping written in a workflow keeps its key order in the process that executes
the run: the engine process of `serve --engine-process`, a `flowyard worker`. They
rebuild the workflow from its stored version (`flowyard_workflow_versions.source`),
which was jsonb: a loop over `{zzz: 2, a: 1, cc: 3}` went a, cc, zzz there, and the
run's `output:` mapping came back with its keys in that order too. Real processes on
the session's PostgreSQL (tests/ui/test_http_run_wait_elsewhere.py starts the same).
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
from processes import free_port, start, stop

ROOT = Path(__file__).resolve().parents[2]

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
TOPOLOGIES = {
    "engine-process": [["serve", "--engine-process"]],
    "worker": [["serve", "--no-worker"], ["worker", "--concurrency", "2"]],
}


@pytest.fixture(params=list(TOPOLOGIES))
def elsewhere(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[tuple[httpx.Client, str]]:
    """A server whose runs execute in another process, a client of it, and the name
    of the workflow it serves."""
    name = f"literal_order_{uuid.uuid4().hex[:8]}"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / f"{name}.yaml").write_text(LITERAL.format(name=name))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "order-token",
        "FLOWYARD_QUEUE": f"ko-{uuid.uuid4().hex[:8]}",  # no other test's worker
        "PYTHONPATH": str(ROOT),
    }
    procs = [
        start(
            [*args, *(["--port", str(port)] if args[0] == "serve" else [])],
            env,
            tmp_path,
            tmp_path / f"{i}.log",
        )
        for i, args in enumerate(TOPOLOGIES[request.param])
    ]
    headers = {"Authorization": "Bearer order-token"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
            _until_healthy(http, procs[0], tmp_path / "0.log")
            yield http, name
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


def test_a_literal_mapping_keeps_its_order_in_the_process_that_executes_the_run(
    elsewhere: tuple[httpx.Client, str],
) -> None:
    http, name = elsewhere
    answer = http.post(f"/api/workflows/{name}/runs?wait=1", json={"n": 3})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == "succeeded", result["error"]
    # The loop went over the literal mapping as written...
    assert [each["result"] for each in result["output"]["zzz"]] == ORDER
    # ...and the workflow's output mapping has its keys as written.
    assert list(result["output"]) == ORDER
    # The stored run says the same (GET /api/runs/<id>, read back from the log).
    stored = http.get(f"/api/runs/{result['execution_id']}").json()
    assert list(stored["output"]) == ORDER
    assert [each["result"] for each in stored["output"]["zzz"]] == ORDER
