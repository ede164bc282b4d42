"""An echo server (httpbin's ``/anything``) standing in for a peer that hands back
what it was sent: the request target as it came on the wire, the headers, the body.

TEST STAND-IN ONLY. Any method, any path; a path under ``/fail/`` answers 500 with
the same echo (an error body quoting the request, as many APIs' do).
``EchoServer(routes=False)`` stands in for an Express app without the route asked
for: every request gets Express's 404 page, ``Cannot POST /the/path`` (its path,
not its query).
"""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: Express's answer to a route it does not have (its finalhandler's page).
_EXPRESS_404 = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n'
    "</head>\n<body>\n<pre>Cannot {method} {path}</pre>\n</body>\n</html>\n"
)


class EchoServer:
    """``with EchoServer() as peer: … peer.url … peer.targets``."""

    def __init__(self, routes: bool = True) -> None:
        #: Each request's target (path and query) exactly as the client sent it.
        self.targets: list[str] = []
        self.headers: list[dict[str, str]] = []  # lower-case names
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _echo(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                echo.targets.append(self.path)
                echo.headers.append({k.lower(): v for k, v in self.headers.items()})
                if not routes:
                    path = html.escape(urlsplit(self.path).path)
                    reply = _EXPRESS_404.format(method=self.command, path=path).encode()
                    self.send_response(404)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                else:
                    reply = json.dumps(
                        {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                    ).encode()
                    self.send_response(500 if self.path.startswith("/fail/") else 200)
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _echo

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> EchoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
