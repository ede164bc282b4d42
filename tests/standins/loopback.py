"""A stand-in peer from an ``http.server`` handler class, served on 127.0.0.1.

TEST STAND-IN ONLY: ``with serving(Handler) as url: …`` starts a threading server on a
free port and stops it after; each test file's handler says what the peer answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """The server's base URL (``http://127.0.0.1:<port>``) while it runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
