"""The waitress server ``flowyard serve`` builds (``ui.server.make_server``), as a
client on the internet finds it: a body far over FLOWYARD_MAX_BODY is refused while
it is being sent, not after it was all spooled to disk.

Raw sockets on 127.0.0.1: these clients send what an HTTP library would not. The
socket timeouts only keep a broken server from hanging the test; nothing is timed.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask

from ui.server import make_server

MAX_BODY = 1024 * 1024  # the app fixture's limit (and FLOWYARD_MAX_BODY's default)
GUARD_S = 30.0


@pytest.fixture(scope="module")
def served(app: Flask) -> Iterator[tuple[str, int]]:
    server: Any = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-limits", daemon=True).start()
    yield "127.0.0.1", server.effective_port
    server.close()


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=GUARD_S)
    sock.settimeout(GUARD_S)
    return sock


def _status_line(sock: socket.socket) -> str:
    try:
        head = sock.recv(4096)
    except ConnectionResetError:
        return "reset before an answer"
    return head.split(b"\r\n", 1)[0].decode()


def test_a_content_length_far_over_the_limit_is_refused_before_the_body(
    served: tuple[str, int],
) -> None:
    # It got no answer until 200+ MB had been sent (waitress spooled up to 1 GiB).
    with _connect(served) as sock:
        sock.sendall(
            b"POST /webhooks/test/async HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{"
        )
        assert _status_line(sock) == "HTTP/1.1 413 Request Entity Too Large"


def test_a_chunked_body_far_over_the_limit_is_refused_while_it_arrives(
    served: tuple[str, int],
) -> None:
    # A 20 MB chunked upload was answered 413 only once all of it had arrived.
    total, chunk = 20 * MAX_BODY, b"y" * 65536
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    with _connect(served) as sock:
        sock.sendall(
            b"POST /webhooks/test/async HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            while sent < total and not select.select([sock], [], [], 0)[0]:
                sock.sendall(frame)
                sent += len(chunk)
            if sent >= total:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused and closed while we were sending: what this wants
        status = _status_line(sock)
    assert sent < total, "the whole body was read before any answer"
    assert status in ("HTTP/1.1 413 Request Entity Too Large", "reset before an answer")


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_of_exactly_the_limit_still_reaches_the_app(
    served: tuple[str, int], chunked: bool
) -> None:
    body = json.dumps({"pad": ""}).encode()
    body = json.dumps({"pad": "x" * (MAX_BODY - len(body))}).encode()
    assert len(body) == MAX_BODY
    url = f"http://{served[0]}:{served[1]}/webhooks/test/async"
    headers = {"Content-Type": "application/json"}
    # httpx sends an iterator of parts chunked, with no Content-Length.
    content: Any = (body[i : i + 4096] for i in range(0, len(body), 4096)) if chunked else body
    resp = httpx.post(url, content=content, headers=headers, timeout=GUARD_S)
    assert resp.status_code == 202, resp.text
    # One byte more is the app's own answer: JSON, naming the limit.
    over = httpx.post(url, content=body + b" ", headers=headers, timeout=GUARD_S)
    assert over.status_code == 413
    assert over.json() == {"error": "payload too large", "max_bytes": MAX_BODY}
