"""Helper servers for bench/webhook_throughput.py, each run as its own process.

    python bench/_wh_servers.py stub PORT    # stand-in payment/customer endpoint
    python bench/_wh_servers.py flask PORT   # ceiling (b): bare Flask 202 under waitress

The stub is a raw asyncio HTTP/1.1 server (keep-alive, Content-Length bodies) that
answers every request at once with a small JSON body (a capture: the charge object), so the workflow's capture and
notify steps cost one loopback round trip and nothing else. Both listen on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

WAITRESS_THREADS = 16  # the same as ui/server.py

#: What the bench's payments ask to capture (bench/_wh_load.py): the stub answers a
#: capture with Stripe's charge object for it, as the template checks (an answer that
#: does not confirm this charge captured for this amount is no capture).
BENCH_AMOUNT_CENTS = 4200


def _response(body: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    return head + str(len(body)).encode() + b"\r\n\r\n" + body


_OK = _response(b'{"ok":true}')


def _answer(request_line: bytes) -> bytes:
    """The answer to one request: a capture's charge object, or a small ``ok``."""
    parts = request_line.split(b" ")[1].split(b"/") if b" " in request_line else []
    if len(parts) == 5 and parts[1:3] == [b"v1", b"charges"] and parts[4] == b"capture":
        charge = parts[3]
        return _response(
            b'{"id":"%s","object":"charge","status":"succeeded","captured":true,'
            b'"amount_captured":%d}' % (charge, BENCH_AMOUNT_CENTS)
        )
    return _OK


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            if length:
                await reader.readexactly(length)
            writer.write(_answer(head.split(b"\r\n", 1)[0]))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def _stub(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=512)
    async with server:
        await server.serve_forever()


def _flask(port: int) -> None:
    from flask import Flask, jsonify, request
    from waitress import serve

    app = Flask("flask_ceiling")

    @app.post("/webhooks/<path:path>")
    def deliver(path: str):  # noqa: ANN202 - a Flask view
        request.get_data(cache=False)
        return jsonify({"accepted": True, "path": path}), 202

    serve(app, host="127.0.0.1", port=port, threads=WAITRESS_THREADS, _quiet=True)


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    for sig in (signal.SIGINT, signal.SIGTERM):  # stateless stand-ins: exit at once
        signal.signal(sig, lambda *_: os._exit(0))
    if kind == "stub":
        asyncio.run(_stub(port))
    elif kind == "flask":
        _flask(port)
    else:
        raise SystemExit(f"unknown helper server {kind!r}")


if __name__ == "__main__":
    main()
