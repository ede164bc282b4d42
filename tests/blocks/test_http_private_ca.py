"""The HTTP block's client trusts a self-signed or private-CA certificate named by
SSL_CERT_FILE (docs/blocks/http.md, "Certificates"): a real HTTPS server on
127.0.0.1 with a certificate made here, and the runtime's own client."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from engine._http import new_client


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_url(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server with a self-signed certificate for 127.0.0.1, and that cert."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}/", cert
    finally:
        server.shutdown()
        server.server_close()


async def _get(url: str) -> httpx.Response:
    client = new_client()  # as a runtime makes it, reading the environment then
    try:
        return await client.get(url)
    finally:
        await client.aclose()


async def test_ssl_cert_file_trusts_a_self_signed_certificate(
    https_url: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, cert = https_url
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        await _get(url)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    resp = await _get(url)
    assert resp.status_code == 200 and resp.text == "hello"
