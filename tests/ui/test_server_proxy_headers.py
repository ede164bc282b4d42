"""Proxy headers (`X-Forwarded-For`, `Forwarded`) under the waitress server that
`flowyard serve` builds (`ui.server.make_server`): they reach a webhook's run as
sent, and the server does not take the client's address from them."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask

from ui.bridge import EngineBridge
from ui.server import make_server

FORWARDED = {
    "X-Forwarded-For": "1.2.3.4, 5.6.7.8",
    "Forwarded": "for=1.2.3.4;proto=https, for=5.6.7.8",
    "X-Forwarded-Proto": "https",
}


def _running(app: Any) -> Iterator[str]:
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    yield from _running(app)


def test_forwarded_headers_reach_the_webhook_run(served: str, engine_bridge: EngineBridge) -> None:
    resp = httpx.post(f"{served}/webhooks/test/async", json={"n": 1}, headers=FORWARDED, timeout=30)
    assert resp.status_code == 202, resp.text
    run = engine_bridge.call(engine_bridge.runtime.wait(resp.json()["execution_id"]), timeout=60)
    assert run["status"] == "succeeded", run
    # The trigger block's output: what `<webhook.headers.x_forwarded_for>` reads.
    headers = run["blocks"]["async_hook"]["output"]["headers"]
    assert headers.get("x_forwarded_for") == "1.2.3.4, 5.6.7.8", headers
    assert headers.get("forwarded") == "for=1.2.3.4;proto=https, for=5.6.7.8"
    assert headers.get("x_forwarded_proto") == "https"


def _echo_environ(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    seen = f"{environ['REMOTE_ADDR']}|{environ.get('HTTP_X_FORWARDED_FOR')}|{environ['wsgi.url_scheme']}"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [seen.encode()]


def test_the_client_address_is_the_peer_not_the_header() -> None:
    # No proxy is trusted: the headers are client-supplied, so they must not
    # rewrite REMOTE_ADDR or the scheme (a sender could claim any address).
    for base in _running(_echo_environ):
        resp = httpx.get(base, headers=FORWARDED, timeout=30)
        assert resp.text == "127.0.0.1|1.2.3.4, 5.6.7.8|http"
