"""The waitress server ``flowyard serve`` builds (``ui.server.make_server``), as a
client on the internet finds it: a body far over FLOWYARD_MAX_BODY is refused while
it is being sent, not after it was all spooled to disk.

Raw sockets on 127.0.0.1: these clients send what an HTTP library would not. The
socket timeouts only keep a broken server from hanging the test; nothing is timed.
"""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from processes import free_port

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


# -- connections: idle and slow clients do not shut the server ---------------------------


def _stalled(address: tuple[str, int]) -> socket.socket:
    """A client that sent its headers and one byte of a 100-byte body, then stalled."""
    sock = _connect(address)
    sock.sendall(b"POST /webhooks/test/async HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    return sock


def test_more_stalled_clients_than_waitress_allowed_leave_health_answering(
    served: tuple[str, int],
) -> None:
    # At 100 connections (waitress's default limit) the server stopped accepting:
    # /api/health got no answer for as long as they stayed (120 s each, at least).
    stalled = [_stalled(served) for _ in range(150)]
    try:
        health = httpx.get(f"http://{served[0]}:{served[1]}/api/health", timeout=GUARD_S)
        assert health.status_code == 200, health.text
    finally:
        for sock in stalled:
            sock.close()


def test_an_idle_connection_is_closed_after_the_channel_timeout(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWYARD_CHANNEL_TIMEOUT", "1")
    server: Any = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-idle", daemon=True).start()
    try:
        with _stalled(("127.0.0.1", server.effective_port)) as sock:
            try:
                closed = sock.recv(4096) == b""  # the server hung up; no answer
            except ConnectionResetError:
                closed = True
            assert closed
    finally:
        server.close()


def _serve_with_open_files(limit: int, tmp_path: Any, **settings: str) -> Any:
    """`flowyard serve` in a process that may open ``limit`` files at most."""
    env = {**os.environ, **settings, "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}
    env.pop("FLOWYARD_TOKEN", None)
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit)),
    )


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("FLOWYARD_CONNECTION_LIMIT", "5", "is not a number of connections from 10 to 100000"),
        ("FLOWYARD_CONNECTION_LIMIT", "1e3", "is not a number of connections from 10 to 100000"),
        ("FLOWYARD_CHANNEL_TIMEOUT", "0", "is not a number of seconds from 1 to 3600"),
        ("FLOWYARD_CHANNEL_TIMEOUT", "30s", "is not a number of seconds from 1 to 3600"),
        ("FLOWYARD_CONNECTION_LIMIT", "1000", "needs 1256 open files; this process may open 512"),
    ],
)
def test_connection_settings_that_cannot_be_used_are_refused_at_start(
    tmp_path: Any, name: str, value: str, says: str
) -> None:
    done = _serve_with_open_files(512, tmp_path, **{name: value})
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"flowyard serve: {name}="), done.stderr
    assert says in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert list(tmp_path.iterdir()) == []  # no token, key or templates written


def test_the_default_connection_limit_fits_the_open_files_there_are(tmp_path: Any) -> None:
    # 512 open files leave 256 connections: it starts (and then finds no database).
    done = _serve_with_open_files(512, tmp_path)
    assert done.returncode == 1
    assert "cannot reach the database" in done.stderr, done.stderr


def test_both_413s_are_the_answers_the_document_declares(
    served: tuple[str, int], client: Any, auth: dict[str, str]
) -> None:
    """The app's 413 is JSON {error, max_bytes}; waitress's, for a body far over the
    limit, plain text (docs/deploy.md). The document declared the JSON one only, so a
    client built from it failed to read the other."""
    doc = client.get("/api/openapi.json", headers=auth).get_json()
    run = doc["paths"]["/api/workflows/{name}/runs"]["post"]["responses"]["413"]["content"]
    hook = doc["paths"]["/webhooks/{path}"]["post"]["responses"]["413"]["content"]
    base = f"http://{served[0]}:{served[1]}"
    headers = {**auth, "Content-Type": "application/json"}
    for body in (b"x" * (MAX_BODY + 1), b"x" * (MAX_BODY + 200 * 1024)):
        for url, declared in (("/api/workflows/hello/runs", run), ("/webhooks/test/async", hook)):
            try:
                answer = httpx.post(base + url, content=body, headers=headers, timeout=GUARD_S)
            except httpx.TransportError:  # closed while it sent: no answer to read
                continue
            assert answer.status_code == 413, url
            mimetype = answer.headers["Content-Type"].split(";")[0]
            assert mimetype in declared, (url, len(body), mimetype)
