"""A 409 answering a request sent with an Idempotency-Key is retried: the peer says
the first request with that key is still being processed (Stripe's
`idempotency_key_in_use`; the IETF Idempotency-Key header draft), and asked again
later it answers with that request's outcome.

Against a stand-in on 127.0.0.1 that keeps keys as Stripe does. The block failed at
once with the 409: a capture the processor made looked like one with no known
outcome, and the Order Processing template asked for it to be checked by hand."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


class KeyedProcessor:
    """Captures once per Idempotency-Key, taking ``took`` s; meanwhile a request with
    the same key gets 409, and afterwards the first one's answer."""

    def __init__(self, took: float) -> None:
        self.took = took
        self.captures = 0
        self.answers: list[int] = []
        self._lock = threading.Lock()
        self._done: dict[str, bytes] = {}
        self._busy: set[str] = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/charges/ch_1/capture"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        processor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                with processor._lock:
                    done = processor._done.get(key)
                    busy = key in processor._busy
                    if done is None and not busy:
                        processor._busy.add(key)
                if done is not None:
                    return self._answer(200, done)
                if busy:
                    error = {
                        "error": {"type": "idempotency_error", "code": "idempotency_key_in_use"}
                    }
                    return self._answer(409, json.dumps(error).encode())
                time.sleep(processor.took)
                body = json.dumps({"id": "ch_1", "captured": True}).encode()
                with processor._lock:
                    processor.captures += 1
                    processor._done[key] = body
                    processor._busy.discard(key)
                self._answer(200, body)

            def _answer(self, status: int, body: bytes) -> None:
                processor.answers.append(status)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up on it (its timeout)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> KeyedProcessor:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def processor() -> Iterator[KeyedProcessor]:
    with KeyedProcessor(took=2.0) as running:
        yield running


def capture(url: str, headers: str = "") -> str:
    return f"""
        name: http_key_in_use
        blocks:
          capture:
            type: http
            method: POST
            url: {url}
            {headers}
            timeout: 1
            retries: 3
            retry_backoff: 0.5
        """


async def test_a_409_for_a_key_in_use_is_retried_until_the_first_outcome(
    run_yaml: Any, processor: KeyedProcessor
) -> None:
    result = await run_yaml(capture(processor.url))
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["body"] == {"id": "ch_1", "captured": True}
    assert processor.captures == 1
    assert 409 in processor.answers  # the case at hand: asked while the first went on


async def test_a_key_of_your_own_is_retried_the_same_way(
    run_yaml: Any, processor: KeyedProcessor
) -> None:
    result = await run_yaml(capture(processor.url, "headers: {Idempotency-Key: capture-ev-1}"))
    assert result["status"] == "succeeded", result["error"]
    assert processor.captures == 1
