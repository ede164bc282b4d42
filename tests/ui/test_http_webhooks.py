"""Webhook status codes: 202, 200 (sync), 400, 401, 404, 413; a shared token over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient


def test_async_delivery_is_accepted(client: FlaskClient, auth: dict[str, str]) -> None:
    resp = client.post("/webhooks/test/async", json={"order_id": 7})
    assert resp.status_code == 202
    body = resp.get_json()
    assert body["execution_id"] and body["status_url"]
    run = client.get(f"/api/runs/{body['execution_id']}", headers=auth)
    assert run.status_code == 200


def test_sync_delivery_returns_the_output(client: FlaskClient) -> None:
    resp = client.post("/webhooks/test/sync", json={"n": 21})
    assert resp.status_code == 200
    assert resp.get_json() == {"double": 42}


def test_bad_json_is_400(client: FlaskClient) -> None:
    resp = client.post(
        "/webhooks/test/async", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400


def test_signature(client: FlaskClient) -> None:
    raw = json.dumps({"a": 1}).encode()
    bad = client.post(
        "/webhooks/test/signed",
        data=raw,
        headers={"Content-Type": "application/json", "X-Flowyard-Signature": "sha256=00"},
    )
    assert bad.status_code == 401
    missing = client.post(
        "/webhooks/test/signed", data=raw, headers={"Content-Type": "application/json"}
    )
    assert missing.status_code == 401
    sig = "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    ok = client.post(
        "/webhooks/test/signed",
        data=raw,
        headers={"Content-Type": "application/json", "X-Flowyard-Signature": sig},
    )
    assert ok.status_code == 202


def test_unknown_path_is_404(client: FlaskClient) -> None:
    assert client.post("/webhooks/no/such/path", json={}).status_code == 404


def test_two_mib_body_is_413(client: FlaskClient, auth: dict[str, str]) -> None:
    big = b"x" * (2 * 1024 * 1024)
    resp = client.post(
        "/webhooks/test/async", data=big, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    assert resp.get_json()["max_bytes"] == 1024 * 1024
    # The API has the same limit (checked before auth, so nothing reads the body).
    assert (
        client.put(
            "/api/workflows/hello", data=big, headers={**auth, "Content-Type": "application/yaml"}
        ).status_code
        == 413
    )
    assert client.post("/api/workflows/hello/runs", data=big).status_code == 413


def test_a_query_string_keeps_repeats_and_refuses_what_is_not_utf8(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    bad = client.post("/webhooks/test/async?a=1&b=%E4", json={})
    assert bad.status_code == 400
    assert bad.get_json() == {
        "error": "the query string has a percent-encoded value that is not UTF-8 (%E4)"
    }
    ok = client.post("/webhooks/test/async?a=1&a=2&c=%C3%A4", json={})
    assert ok.status_code == 202
    run = client.get(f"/api/runs/{ok.get_json()['execution_id']}", headers=auth)
    assert run.get_json()["input"]["webhook"]["query"] == {"a": ["1", "2"], "c": "ä"}


def test_options_names_the_methods_the_hook_listens_on(client: FlaskClient) -> None:
    # It was Flask's 200 listing PUT, PATCH, DELETE, GET… while each was a 405.
    resp = client.options("/webhooks/test/async")
    assert resp.status_code == 204 and resp.headers["Allow"] == "POST, OPTIONS"
    assert "Content-Type" not in resp.headers  # no body, so no text/html either
    get = client.get("/webhooks/test/async")
    # The 405 lists what the path supports as OPTIONS does (it said "POST" alone).
    assert get.status_code == 405 and get.headers["Allow"] == "POST, OPTIONS"
    unknown = client.options("/webhooks/no/such/path")
    assert unknown.status_code == 404
    assert unknown.get_json() == {"error": "no workflow listens on /webhooks/no/such/path"}


def test_a_gitlab_token_sent_as_utf8_over_http_is_the_configured_secret(
    live_server: str, workflows_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`secret_header`: the header's bytes as sent (WSGI reads them as latin-1 text)
    are compared with the secret's UTF-8; a token with an `ü` is not a mismatch."""
    token = "grün-" + secrets.token_hex(8)
    monkeypatch.setenv("FLOWYARD_TEST_GITLAB_TOKEN", token)
    name = f"gitlab_{uuid.uuid4().hex[:8]}"
    (workflows_dir / f"{name}.yaml").write_text(
        f"name: {name}\nblocks:\n"
        f"  hook: {{type: webhook, path: gitlab/{name}, secret: <env.FLOWYARD_TEST_GITLAB_TOKEN>,"
        " secret_header: X-Gitlab-Token}\n"
        "  work: {type: function, code: 'return 1'}\nedges: [hook -> work]\n"
    )
    host, port = live_server.removeprefix("http://").split(":")

    def deliver(sent: bytes) -> int:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.putrequest("POST", f"/webhooks/gitlab/{name}")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", "2")
            conn.putheader("X-Gitlab-Token", sent)
            conn.endheaders(b"{}")
            return conn.getresponse().status
        finally:
            conn.close()

    assert deliver(token.encode("utf-8")) == 202
    assert deliver(token.encode("latin-1")) == 401
    assert deliver(b"wrong") == 401


@pytest.mark.parametrize("path", ["test//sync", "/test/sync", "//test///sync//"])
def test_repeated_slashes_are_merged_before_routing_with_no_redirect(
    live_server: str, path: str
) -> None:
    """docs/blocks/webhook.md: `a//b` is merged into `a/b` before routing. It was a
    404 (`test//sync`), or Werkzeug's 308 with an HTML page (`/webhooks//test/sync`),
    which not every sender follows with its POST."""
    host, port = live_server.removeprefix("http://").split(":")

    def send(method: str, hook: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, f"/webhooks/{hook}", body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    status, headers, body = send("POST", path, b'{"n": 21}')
    assert (status, json.loads(body)) == (200, {"double": 42}), body
    async_path = path.replace("sync", "async")
    status, headers, _ = send("OPTIONS", async_path)
    assert status == 204 and headers["Allow"] == "POST, OPTIONS"
    status, headers, body = send("GET", async_path)
    assert status == 405 and headers["Content-Type"] == "application/json", body
