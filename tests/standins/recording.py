"""A recording HTTP server (werkzeug, in a thread) standing in for Stripe/Slack/customer systems.

TEST STAND-IN ONLY. It accepts any method on any path, records the request, and
answers from a per-path script (a queue of responses; the last one repeats), so a
test can say "the first call gets 503 with Retry-After: 1, then 200".
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw_query: str = ""  # as sent: repeated parameters kept

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Scripted:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer this late (the request is recorded on arrival)


class RecordingServer:
    """``with RecordingServer() as srv: … srv.url … srv.requests``."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._scripts: dict[str, list[Scripted]] = defaultdict(list)
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.port = self._server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def respond(self, path: str, *responses: Scripted) -> None:
        """Answer requests to ``path`` with these responses in turn (the last repeats)."""
        with self._lock:
            self._scripts[path] = list(responses)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.args),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.get_data(),
            raw_query=request.query_string.decode(),
        )
        with self._lock:
            self.requests.append(recorded)
            script = self._scripts.get(request.path)
            reply = (script.pop(0) if len(script) > 1 else script[0]) if script else Scripted()
        time.sleep(reply.delay_s)
        if isinstance(reply.body, (dict, list)):
            response = Response(json.dumps(reply.body), reply.status, mimetype="application/json")
        elif isinstance(reply.body, bytes):  # as given: another charset, binary
            response = Response(reply.body, reply.status, mimetype="application/octet-stream")
        else:
            response = Response(str(reply.body), reply.status, mimetype="text/plain")
        for k, v in reply.headers.items():
            response.headers[k] = v
        return response(environ, start_response)

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
