"""While a failure lets a sibling's effect under way finish (the drain), nothing new
begins and nothing else replaces the failure.

A black-box round found the drain's edges wrong: an HTTP call with `retries: 3` that
was under way when its sibling failed went on to send three more POSTs after the
failure (the run failed 12 s later); a parallel's `timeout` firing during the drain
made the run fail with `TimeoutError` instead of the block that failed; and a second
failure further out interrupted the effect being let finish.

Each peer is a real HTTP server on 127.0.0.1 that counts the POSTs it gets and holds
each one until the test releases it; a Function waits for a gate file. So every step
happens in a known order, whatever the machine's speed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from held_runs import until

from engine.model import Workflow
from engine.runtime import Runtime


class StandIn:
    """A peer that counts POSTs and answers each with ``status`` once released."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.posts = 0
        self.release = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stand_in.posts += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stand_in.release.wait(60)
                self.send_response(stand_in.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/call"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer() -> Iterator[Callable[[int], StandIn]]:
    started: list[StandIn] = []

    def start(status: int) -> StandIn:
        started.append(StandIn(status))
        return started[-1]

    yield start
    for stand_in in started:
        stand_in.close()


def failing(gate: Path, block: str = "boom") -> str:
    """A Function block that fails once ``gate`` exists."""
    return f"""
  {block}:
    type: function
    timeout: 60
    code: |
      import os, time
      while not os.path.exists({str(gate)!r}):
          time.sleep(0.05)
      raise ValueError({block!r})"""


async def events(runtime: Runtime, eid: str, block: str) -> list[tuple[str, Any]]:
    rows = await runtime.db.pool.fetch(
        "SELECT type, data FROM flowyard_run_events WHERE execution_id = $1 AND block = $2"
        " ORDER BY seq",
        eid,
        block,
    )
    return [(r["type"], r["data"]) for r in rows]


async def failed(runtime: Runtime, eid: str, block: str) -> bool:
    return any(kind == "block_failed" for kind, _ in await events(runtime, eid, block))


def error_of(recorded: list[tuple[str, Any]]) -> dict[str, Any]:
    return next(data for kind, data in recorded if kind == "block_failed")["error"]


# `call` (an HTTP POST with retries) beside `boom`, at the top level or as branches:
# (what the workflow adds, its edges, the two blocks' paths).
BESIDE = {
    "top": ("", "[start -> call, start -> boom]", "call", "boom"),
    "parallel": (
        "\n  par: {type: parallel, branches: {a: [boom], b: [call]}}",
        "[start -> par]",
        "par[b].call",
        "par[a].boom",
    ),
}


def beside(where: str, url: str, gate: Path, backoff: int) -> str:
    extra, edges, _, _ = BESIDE[where]
    return f"""
name: retry_beside_failure_{where}
blocks:
  start: {{type: manual}}{extra}
  call: {{type: http, method: POST, url: '{url}', retries: 3, retry_backoff: {backoff}}}{failing(gate)}
edges: {edges}
"""


@pytest.mark.parametrize("where", list(BESIDE))
async def test_an_attempt_under_way_when_a_sibling_fails_is_the_last(
    runtime: Runtime, write_workflow: Callable[..., Workflow], peer, tmp_path: Path, where: str
) -> None:
    stand_in = peer(500)
    gate = tmp_path / "gate"
    _, _, call, boom = BESIDE[where]
    sub = await runtime.submit(write_workflow(beside(where, stand_in.url, gate, 1)), {})
    assert await until(lambda: stand_in.posts == 1)
    gate.touch()  # boom fails while the POST is held
    assert await until(lambda: failed(runtime, sub.execution_id, boom))
    stand_in.release.set()  # the POST under way answers 500 after the failure
    result = await runtime.wait(sub.execution_id, timeout=30)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "ValueError" and result["error"]["block"] == boom
    assert stand_in.posts == 1  # no new attempt began after boom failed
    recorded = await events(runtime, sub.execution_id, call)
    assert [kind for kind, _ in recorded] == ["block_started", "block_failed"]
    assert error_of(recorded)["type"] == "HttpError"  # its failure as it stands


@pytest.mark.parametrize("where", list(BESIDE))
async def test_a_retry_waiting_when_a_sibling_fails_does_not_begin(
    runtime: Runtime, write_workflow: Callable[..., Workflow], peer, tmp_path: Path, where: str
) -> None:
    stand_in = peer(500)
    stand_in.release.set()  # answers 500 at once: `call` then waits 60 s to retry
    gate = tmp_path / "gate"
    _, _, call, boom = BESIDE[where]
    sub = await runtime.submit(write_workflow(beside(where, stand_in.url, gate, 60)), {})

    async def retrying() -> bool:
        return "block_retrying" in [k for k, _ in await events(runtime, sub.execution_id, call)]

    assert await until(retrying)
    gate.touch()
    result = await runtime.wait(sub.execution_id, timeout=30)  # not 60 s of backoff
    assert result["error"]["type"] == "ValueError" and result["error"]["block"] == boom
    assert stand_in.posts == 1
    assert error_of(await events(runtime, sub.execution_id, call))["type"] == "HttpError"


# A parallel whose timeout fires while it lets `call` finish after `boom` failed:
# the failure stopping it in its own branch, or inside a loop in a branch.
TIMED = {
    "branch": """
  par: {{type: parallel, timeout: 5, branches: {{a: [boom], b: [each]}}}}
  each: {{type: loop, count: 1, body: [call]}}""",
    "nested": """
  par: {{type: parallel, timeout: 5, branches: {{a: [each]}}}}
  each: {{type: loop, count: 1, body: [call, boom]}}""",
}


@pytest.mark.parametrize("shape", list(TIMED))
async def test_a_timeout_during_the_drain_interrupts_it_and_the_failure_stands(
    runtime: Runtime, write_workflow: Callable[..., Workflow], peer, tmp_path: Path, shape: str
) -> None:
    stand_in = peer(200)  # held until the test ends: only the timeout ends the drain
    gate = tmp_path / "gate"
    wf = f"""
name: timeout_during_drain_{shape}
blocks:
  start: {{type: manual}}{TIMED[shape].format()}
  call: {{type: http, method: POST, url: '{stand_in.url}'}}{failing(gate)}
edges: [start -> par]
"""
    sub = await runtime.submit(write_workflow(wf), {})
    assert await until(lambda: stand_in.posts == 1)
    gate.touch()
    result = await runtime.wait(sub.execution_id, timeout=30)
    boom = "par[a].boom" if shape == "branch" else "par[a].each[0].boom"
    assert result["status"] == "failed"
    assert result["error"]["type"] == "ValueError" and result["error"]["block"] == boom
    assert result["blocks"]["par"]["error"]["type"] == "ValueError"
    call = "par[b].each[0].call" if shape == "branch" else "par[a].each[0].call"
    assert error_of(await events(runtime, sub.execution_id, call))["type"] == "Cancelled"
    assert stand_in.posts == 1


async def test_cancelling_during_the_drain_interrupts_it(
    runtime: Runtime, write_workflow: Callable[..., Workflow], peer, tmp_path: Path
) -> None:
    stand_in = peer(200)  # held until the test ends: only the cancel ends the drain
    gate = tmp_path / "gate"
    wf = f"""
name: cancel_during_drain
blocks:
  start: {{type: manual}}
  call: {{type: http, method: POST, url: '{stand_in.url}'}}{failing(gate)}
edges: [start -> call, start -> boom]
"""
    sub = await runtime.submit(write_workflow(wf), {})
    assert await until(lambda: stand_in.posts == 1)
    gate.touch()
    assert await until(lambda: failed(runtime, sub.execution_id, "boom"))
    assert await runtime.cancel(sub.execution_id)
    result = await runtime.wait(sub.execution_id, timeout=30)
    assert result["status"] == "cancelled"
    assert result["blocks"]["boom"]["error"]["type"] == "ValueError"
    assert result["blocks"]["call"]["error"]["type"] == "Cancelled"
    assert stand_in.posts == 1


async def test_a_second_failure_further_out_lets_the_effect_finish_too(
    runtime: Runtime, write_workflow: Callable[..., Workflow], peer, tmp_path: Path
) -> None:
    stand_in = peer(200)
    gate, later = tmp_path / "gate", tmp_path / "later"
    wf = f"""
name: second_failure_during_drain
blocks:
  start: {{type: manual}}
  par: {{type: parallel, branches: {{a: [boom], b: [call]}}}}
  call: {{type: http, method: POST, url: '{stand_in.url}'}}{failing(gate)}{failing(later, "late")}
edges: [start -> par, start -> late]
"""
    sub = await runtime.submit(write_workflow(wf), {})
    assert await until(lambda: stand_in.posts == 1)
    gate.touch()  # boom fails: the parallel lets `call` finish
    assert await until(lambda: failed(runtime, sub.execution_id, "par[a].boom"))
    later.touch()  # then `late` fails beside the parallel: `call` still finishes
    assert await until(lambda: failed(runtime, sub.execution_id, "late"))
    stand_in.release.set()
    result = await runtime.wait(sub.execution_id, timeout=30)
    assert result["status"] == "failed"
    recorded = await events(runtime, sub.execution_id, "par[b].call")
    assert [kind for kind, _ in recorded] == ["block_started", "block_succeeded"]
    assert stand_in.posts == 1
