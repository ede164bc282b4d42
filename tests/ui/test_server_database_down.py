"""A webhook delivery while the database is unreachable: `503` with a reason and
`Retry-After` (so the sender retries), nothing accepted; once it is back, the
retry is accepted.

The engine reaches PostgreSQL through a TCP relay the test can cut, as a stopped
server or a broken network would: its pooled connections are dropped and new
ones are refused. Everything else is real: the runtime on its own loop, the
Flask app, the waitress server `flowyard serve` builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
import socketserver
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from db_helpers import new_database

from ui.app import UIConfig, create_app
from ui.bridge import EngineBridge
from ui.server import make_server

HOOK = """\
version: 1
name: db_down_hook
blocks:
  hook:
    type: webhook
    path: db-down/events
  noop:
    type: function
    code: |
      return {"ok": True}
edges:
  - hook -> noop
"""


class _Listener(socketserver.ThreadingTCPServer):
    allow_reuse_address = True  # restore() listens again on the port cut() freed
    daemon_threads = True


class Relay:
    """Forwards TCP connections on a local port to ``upstream`` (a Unix socket path or
    a (host, port)); :meth:`cut` closes the listener and every relayed connection,
    :meth:`restore` listens again on the same port."""

    def __init__(self, upstream: str | tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server: socketserver.ThreadingTCPServer | None = None

    def restore(self) -> None:
        relay = self

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                relay._pipe(self.request)

        self._server = _Listener(("127.0.0.1", self.port), Pipe)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        if isinstance(self.upstream, str):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.upstream)
        else:
            upstream = socket.create_connection(self.upstream)
        with self._lock:
            self._conns |= {client, upstream}
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        try:
            with contextlib.suppress(OSError, ValueError):  # ValueError: closed by cut()
                while True:
                    for key, _ in sel.select():
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        key.data.sendall(data)
        finally:
            sel.close()
            with self._lock:
                self._conns -= {client, upstream}
            upstream.close()

    def cut(self) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()


@pytest.fixture
def relayed_url(database_url: str) -> Iterator[tuple[str, str, Relay]]:
    """(a new database's URL, the same through the relay, the relay)."""
    direct = asyncio.run(new_database(database_url, "db_down"))
    parts = urlsplit(direct)
    query = dict(parse_qsl(parts.query))
    # The embedded server's URL names its Unix socket folder (`?host=/…/pgdata`).
    folder = query.pop("host", "")
    port = int(query.pop("port", 0) or parts.port or 5432)
    if folder.startswith("/"):
        relay = Relay(f"{folder}/.s.PGSQL.{port}")
    else:
        relay = Relay((parts.hostname or folder or "127.0.0.1", port))
    relay.restore()
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{relay.port}" if userinfo else f"127.0.0.1:{relay.port}"
    through = urlunsplit(parts._replace(netloc=netloc, query=urlencode(query)))
    yield direct, through, relay


@pytest.fixture
def served(relayed_url: tuple[str, str, Relay], tmp_path: Path) -> Iterator[str]:
    import blocks  # noqa: F401
    from engine.runtime import Runtime

    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "db_down_hook.yaml").write_text(HOOK)
    rt = Runtime(tmp_path / "workflows", relayed_url[1], tmp_path, function_workers=1, resume=False)
    bridge = EngineBridge(rt).start()
    cfg = UIConfig(bridge, "t" * 20, "k" * 20, tmp_path / "workflows", max_body=1024 * 1024)
    server = make_server(create_app(cfg), "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-test", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        bridge.stop()


async def _runs_of(url: str, workflow: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM flowyard_runs WHERE workflow = $1", workflow)
        )
    finally:
        await conn.close()


def test_a_delivery_while_the_database_is_down_is_503_with_retry_after(
    served: str, relayed_url: tuple[str, str, Relay]
) -> None:
    direct, _, relay = relayed_url
    url = f"{served}/webhooks/db-down/events"
    key = {"Idempotency-Key": f"k-{uuid.uuid4().hex[:8]}"}
    relay.cut()
    for _ in range(2):  # pooled connections dropped, then a refused reconnect
        resp = httpx.post(url, json={"n": 1}, headers=key, timeout=60)
        assert resp.status_code == 503, resp.text
        assert resp.json()["error"] == "database unavailable"
        assert int(resp.headers["Retry-After"]) > 0
    assert asyncio.run(_runs_of(direct, "db_down_hook")) == 0  # nothing was accepted
    relay.restore()
    retried = httpx.post(url, json={"n": 1}, headers=key, timeout=60)
    assert retried.status_code == 202, retried.text
    assert asyncio.run(_runs_of(direct, "db_down_hook")) == 1
