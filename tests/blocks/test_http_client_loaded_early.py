"""The HTTP client is imported when a workflow with an HTTP or Slack block is loaded,
not by the first request, inside that block's `timeout`.

The first request of a process imported aiohttp (which builds TLS contexts as it
loads): 0.5-1 s on the engine's loop before anything was sent, counted against the
block's timeout, so a capture with `timeout: 1`, the first after a start, timed out
against a peer answering at once, and was never sent. Its TLS contexts too (~50 ms
each: the client's, its transport's, its first connection's). A fresh process, as this
one has imported the client already."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_CLIENT_LOAD_CHECK = """
import asyncio
import ssl
import sys

import blocks  # every block type, as a flowyard command has them
from engine.context import Services
from engine.model import load_file

load_file(sys.argv[1])  # a workflow without an HTTP block: no client imported
assert "aiohttp" not in sys.modules, "the HTTP client is imported for a workflow that needs none"
load_file(sys.argv[2])
assert "aiohttp" in sys.modules, "the HTTP client is not imported when the workflow is loaded"
loaded = set(sys.modules)
built = []  # TLS contexts made from here on (each reads a certificate bundle, ~50 ms)
made = ssl.create_default_context
ssl.create_default_context = lambda *a, **k: built.append(1) or made(*a, **k)


async def first_request():
    services = Services(db=None, functions=None)
    try:
        await services.http.post("http://127.0.0.1:9/x", json={})  # refused: nothing listens
    except Exception:
        pass
    await services.aclose()


asyncio.run(first_request())
print(sorted(set(sys.modules) - loaded), len(built))
"""


@pytest.mark.parametrize(
    "block",
    [
        '{type: http, method: POST, url: "http://127.0.0.1:9/capture", timeout: 1}',
        '{type: slack, webhook_url: "http://127.0.0.1:9/hook", text: hi}',
    ],
)
def test_the_client_is_imported_when_the_workflow_is_loaded_not_in_the_timed_request(
    tmp_path: Path, block: str
) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text("name: plain\nblocks:\n  f: {type: function, code: 'return 1'}\n")
    calls = tmp_path / "calls.yaml"
    calls.write_text(f"name: calls\nblocks:\n  call: {block}\n")
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT_LOAD_CHECK, str(plain), str(calls)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # The first request imports nothing more, and builds no TLS context of its own.
    assert done.stdout.strip() == "[] 0"
