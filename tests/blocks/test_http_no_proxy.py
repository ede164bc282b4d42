"""NO_PROXY entries as people write them: with a port (`host:port`, as urllib and
httpx read it) or an IPv6 address in brackets (`[::1]`, as Docker and many
corporate settings have it). Each became an httpx mount pattern httpx refused
(`Invalid IPv6 address: '[example.com:8080]'`), and every HTTP and Slack block of
the process failed with that message, whatever host it called."""

from __future__ import annotations

import asyncio

import pytest
from standins.recording import RecordingServer


async def test_no_proxy_with_ports_and_bracketed_addresses_goes_direct(
    monkeypatch: pytest.MonkeyPatch, recorder: RecordingServer
) -> None:
    from engine._http import new_client

    request_lines: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_lines.append((await reader.readline()).decode().strip())
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nproxy")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    for name in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    no_proxy = f"localhost,[::1],example.com:8080,127.0.0.1:{recorder.port}"
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, no_proxy)
    client = new_client()
    try:
        direct = await client.get(f"{recorder.url}/direct")
        proxied = await client.get("http://shop.invalid/orders")
    finally:
        await client.aclose()
        server.close()
    assert direct.status_code == 200 and [r.path for r in recorder.requests] == ["/direct"]
    assert proxied.text == "proxy"
    assert request_lines == ["GET http://shop.invalid/orders HTTP/1.1"]


def test_no_proxy_entries_become_patterns_httpx_takes() -> None:
    from engine._http import proxy_mounts

    env = {"http": "http://proxy:1", "no": "127.0.0.1:8080, [::1], [fd00::2]:81, shop.test:443"}
    assert proxy_mounts(env) == {
        "http://": "http://proxy:1",
        "all://127.0.0.1:8080": None,
        "all://[::1]": None,
        "all://[fd00::2]:81": None,
        "all://*shop.test:443": None,
    }
