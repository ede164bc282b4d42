"""A loop's or parallel's `retries` run the whole body again when a body block
failed — but not when that block's failure is final (an HTTP 400, a refused API key:
its handler said another attempt cannot help). Every iteration before it was run
again, each of its requests sent again (paid Agent calls among them), for the same
failure at the end."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest
from standins.loopback import serving
from standins.recording import RecordingServer, Scripted

SEEN: list[int] = []


class Peer(BaseHTTPRequestHandler):
    """Answers 400 to item 2 (a request it will never take), 200 to the others."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        item = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["item"]
        SEEN.append(item)
        status = 400 if item == 2 else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *args: object) -> None:
        pass


WORKFLOW = """
name: final_failures
blocks:
  start: {{type: manual}}
  each:
    type: {kind}
    items: [1, 2, 3]
    body: [send]
    retries: 2
    retry_backoff: 0
    {extra}
  send:
    type: http
    method: POST
    url: {url}/orders
    json: {{item: "<item>"}}
edges: [start -> each]
"""


async def test_a_loop_does_not_run_its_body_again_for_a_final_failure(run_yaml) -> None:
    SEEN.clear()
    with serving(Peer) as url:
        result = await run_yaml(WORKFLOW.format(kind="loop", url=url, extra=""))
    assert result["status"] == "failed"
    assert result["error"]["block"] == "each[1].send"
    assert "400" in result["error"]["message"]
    assert SEEN == [1, 2]  # once each: item 1 was not sent again for item 2's 400
    assert result["blocks"]["each"]["attempts"] == 1


async def test_a_parallel_with_on_error_continue_collects_a_final_failure_at_once(
    run_yaml,
) -> None:
    SEEN.clear()
    with serving(Peer) as url:
        wf = WORKFLOW.format(kind="parallel", url=url, extra="on_error: continue")
        result = await run_yaml(wf)
    each = result["blocks"]["each"]
    assert each["status"] == "succeeded"
    assert each["attempts"] == 1
    assert sorted(SEEN) == [1, 2, 3]
    assert [e["index"] for e in each["output"]["errors"]] == [1]


async def test_a_failure_another_attempt_may_help_still_runs_the_body_again(run_yaml) -> None:
    wf = """
    name: retried_body
    blocks:
      start: {type: manual}
      each:
        type: loop
        count: 1
        body: [boom]
        retries: 1
        retry_backoff: 0
      boom: {type: function, isolation: inline, code: "raise ValueError('flaky')"}
    edges: [start -> each]
    """
    result = await run_yaml(wf)
    assert result["status"] == "failed"
    assert result["blocks"]["each"]["attempts"] == 2


@pytest.mark.parametrize(
    "container",
    ["type: loop, count: 1", "type: parallel, items: [1], on_error: continue"],
)
async def test_a_containers_retry_waits_as_long_as_its_body_blocks_peer_asked(
    run_yaml, runtime, container: str
) -> None:
    """A body block's `Retry-After` (a 429) was lost at its container, whose `retries`
    asked the peer again after their own backoff (0.01 s here): at once, against a
    peer that had asked for a second."""
    with RecordingServer() as peer:
        peer.respond(
            "/limited", Scripted(status=429, headers={"Retry-After": "1"}), Scripted(status=200)
        )
        result = await run_yaml(
            f"""
            name: container_retry_after
            blocks:
              start: {{type: manual}}
              each: {{{container}, retries: 1, retry_backoff: 0.01, body: [send]}}
              send: {{type: http, method: POST, url: "{peer.url}/limited"}}
            edges: [start -> each]
            """
        )
    assert result["status"] == "succeeded", result["error"]
    events = await runtime.run_events(result["execution_id"])
    [retrying] = [e for e in events if e["type"] == "block_retrying" and e["block"] == "each"]
    assert retrying["data"]["delay_s"] == 1.0
