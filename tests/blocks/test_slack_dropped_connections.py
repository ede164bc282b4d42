"""Slack posts whose connection breaks: after the hook read the message, it may have
posted it (incoming webhooks have no idempotency key), so it is not posted again;
before, nothing was sent and another attempt is safe."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from processes import free_port


class ReadsThenDrops:
    """A hook on 127.0.0.1 that reads each whole request, then closes the connection
    without answering (a proxy or hook dying mid-request)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/services/T0/B0/DROP"
        self.bodies: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, body = data.split(b"\r\n\r\n", 1)
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                while len(body) < length:
                    body += conn.recv(65536)
                self.bodies.append(body)


@pytest.fixture
def dropping_hook() -> Iterator[ReadsThenDrops]:
    hook = ReadsThenDrops()
    yield hook
    hook.server.close()


def alert(url: str) -> str:
    return f"""
        name: slack_dropped
        blocks:
          alert:
            type: slack
            webhook_url: {url}
            text: "Order shipped"
            retries: 2
            retry_backoff: 0.01
        """


async def test_a_post_whose_connection_dropped_after_it_was_sent_is_not_posted_again(
    run_yaml: Any, dropping_hook: ReadsThenDrops
) -> None:
    """It was posted three times: `Server disconnected` was retried like a refused connection."""
    result = await run_yaml(alert(dropping_hook.url))
    assert dropping_hook.bodies == [b'{"text":"Order shipped"}']
    assert result["status"] == "failed"
    assert result["blocks"]["alert"]["attempts"] == 1
    message = result["error"]["message"]
    assert "after the message was sent" in message and "not posted again" in message
    assert "/services/" not in message  # the URL (the credential) stays out


async def test_a_refused_connection_is_retried(run_yaml: Any) -> None:
    result = await run_yaml(alert(f"http://127.0.0.1:{free_port()}/services/T0/B0/DOWN"))
    assert result["status"] == "failed"
    assert result["blocks"]["alert"]["attempts"] == 3
    assert "after the message was sent" not in result["error"]["message"]
