"""A TCP relay in front of PostgreSQL that a test can cut and restore: what a
stopped server or a broken network does to a process (its pooled connections drop,
new ones are refused), without stopping the server other tests share."""

from __future__ import annotations

import contextlib
import selectors
import socket
import socketserver
import threading
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


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
        #: Bytes the server sent through the relay: what a read costs on the wire.
        self.bytes_from_upstream = 0

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
                        if key.fileobj is upstream:
                            with self._lock:
                                self.bytes_from_upstream += len(data)
        finally:
            sel.close()
            with self._lock:
                self._conns -= {client, upstream}
            upstream.close()

    def cut(self, missing_ok: bool = False) -> None:
        if self._server is None and missing_ok:
            return
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self._conns.clear()
        self._server = None


def relay_to(direct: str) -> tuple[str, Relay]:
    """A relay in front of the server of URL ``direct``, and the URL through it."""
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
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query))), relay
