"""One slow peer does not hold every outgoing connection: HTTP blocks calling other
hosts still go out while a workflow's requests wait on it (real embedded PostgreSQL,
real peers on loopback)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine._http import MAX_CONNECTIONS
from engine.runtime import Runtime


class Peer:
    """Answers ``/fast`` at once; holds ``/slow`` until ``release``."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.waiting = 0
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                if self.path.startswith("/slow"):
                    peer.waiting += 1
                    peer.release.wait(60)
                body = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]


@pytest.fixture
def peers() -> Iterator[tuple[Peer, Peer]]:
    slow, fast = Peer(), Peer()
    yield slow, fast
    for p in (slow, fast):
        p.release.set()
        p.server.shutdown()
        p.server.server_close()


SLOW = """
name: many_slow_calls
blocks:
  start: {{type: manual}}
  calls:
    type: parallel
    items: <input.items>
    body: [call]
    max_concurrency: {n}
  call: {{type: http, method: GET, url: "http://127.0.0.1:{port}/slow", timeout: 60}}
edges: [start -> calls]
"""

FAST = """
name: one_fast_call
blocks:
  start: {{type: manual}}
  call: {{type: http, method: GET, url: "http://127.0.0.1:{port}/fast", timeout: 5}}
edges: [start -> call]
output: <call.status>
"""


async def test_a_slow_peer_does_not_hold_back_calls_to_other_hosts(
    runtime: Runtime, write_workflow, run_yaml, peers: tuple[Peer, Peer]
) -> None:
    slow, fast = peers
    n = MAX_CONNECTIONS + 20
    text = SLOW.format(n=n, port=slow.port)
    held = await runtime.submit(write_workflow(text), {"items": list(range(n))})
    for _ in range(200):  # until the slow peer holds all the connections it will get
        before = slow.waiting
        await asyncio.sleep(0.1)
        if before >= 10 and slow.waiting == before:
            break
    holding = slow.waiting
    try:
        result = await run_yaml(FAST.format(port=fast.port), {})
    finally:
        slow.release.set()
    # Before, the slow peer held all 100 and this call waited for one: timed out.
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == 200
    assert holding < MAX_CONNECTIONS
    done = await runtime.wait(held.execution_id, 60)
    assert done["status"] == "succeeded", done["error"]
