"""Slack posts that time out, against a recording stand-in on 127.0.0.1 that
answers late: incoming webhooks have no idempotency key, so a post the hook may
have received is not sent again."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from standins.recording import RecordingServer, Scripted


async def test_a_post_that_timed_out_after_it_was_sent_is_not_posted_again(
    run_yaml: Any, recorder: RecordingServer
) -> None:
    """`timeout: 3`, `retries: 2` and a hook answering after 5 s posted 3 times."""
    recorder.respond("/services/T0/B0/SLOW", Scripted(200, "ok", delay_s=3.0))
    # The runtime's first request builds its HTTP client, which can take longer than
    # this timeout: that attempt would time out before sending, and be retried.
    warm = (
        f"name: slack_warm\nblocks:\n  a: {{type: slack, webhook_url: {recorder.url}/w, text: w}}\n"
    )
    assert (await run_yaml(warm))["status"] == "succeeded"
    result = await run_yaml(
        f"""
        name: slack_slow_hook
        blocks:
          alert:
            type: slack
            webhook_url: {recorder.url}/services/T0/B0/SLOW
            text: "Order shipped"
            timeout: 0.5
            retries: 2
            retry_backoff: 0.01
        """
    )
    assert result["status"] == "failed"
    assert result["blocks"]["alert"]["attempts"] == 1
    error = result["error"]
    assert error["type"] == "TimeoutError" and "timed out after 0.5 s" in error["message"]
    assert "not posted again" in error["message"]
    [request] = recorder.requests_to("/services/T0/B0/SLOW")
    assert request.json == {"text": "Order shipped"}
    # The body went out whole, with its length, as before (not chunked).
    assert request.headers["content-length"] == str(len(request.body))
    assert "transfer-encoding" not in request.headers


@pytest.fixture
def unanswered_connects() -> Iterator[str]:
    """A URL whose TCP connections are never completed: the listening socket's
    accept queue is full (it never accepts), so the kernel drops further SYNs."""
    server = socket.create_server(("127.0.0.1", 0), backlog=0)
    address = server.getsockname()
    fillers = []
    for _ in range(3):  # enough to fill a backlog of 0 (Linux queues one more)
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(address)
        fillers.append(filler)
    yield f"http://127.0.0.1:{address[1]}/services/T0/B0/FULL"
    for filler in fillers:
        filler.close()
    server.close()


async def test_a_post_that_timed_out_before_it_was_sent_is_retried(
    run_yaml: Any, unanswered_connects: str
) -> None:
    """A connection that is never made carries no message: another attempt posts
    it at most once."""
    result = await run_yaml(
        f"""
        name: slack_no_connection
        blocks:
          alert:
            type: slack
            webhook_url: {unanswered_connects}
            text: "Order shipped"
            timeout: 0.3
            retries: 1
            retry_backoff: 0.01
        """
    )
    assert result["status"] == "failed"
    assert "before the message was sent" in result["error"]["message"]
    assert result["blocks"]["alert"]["attempts"] == 2
