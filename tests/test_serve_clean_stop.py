"""`flowyard serve` stopped by SIGTERM logs no ERROR.

Every stop logged `ERROR asyncio: Task was destroyed but it is pending!` for the
task holding the key-order lock (engine/key_order.py): it was never cancelled, and
died with the engine's loop. An operator alerting on ERROR lines was paged by every
deploy. A real `serve` on the session's PostgreSQL, in both of its modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from db_helpers import new_database
from processes import free_port, start, stop, until_healthy

ROOT = Path(__file__).resolve().parent.parent


def _serve(database_url: str, workflows: Path, tmp_path: Path, grace: str) -> tuple[Any, int, Path]:
    """A `flowyard serve` of ``workflows`` on its own queue: the process, its port, its log."""
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "t", "FLOWYARD_QUEUE": f"stop-{uuid.uuid4().hex[:8]}",
        "FLOWYARD_SHUTDOWN_GRACE": grace, "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    log = tmp_path / "serve.log"
    return start(["serve", "--port", str(port)], env, tmp_path, log), port, log


@pytest.mark.parametrize("mode", [[], ["--no-worker"]], ids=["serve", "no-worker"])
async def test_a_stopped_serve_logs_no_error(
    database_url: str, tmp_path: Path, mode: list[str]
) -> None:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "t", "FLOWYARD_QUEUE": f"stop-{uuid.uuid4().hex[:8]}",
        "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    log = tmp_path / "serve.log"
    server = start(["serve", "--port", str(port), *mode], env, tmp_path, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
        server.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.wait, 60)
    finally:
        stop([server])
    text = log.read_text()
    assert code == 0, text
    assert "serving" in text  # the log is the server's
    assert "Task was destroyed" not in text, text
    assert [line for line in text.splitlines() if " ERROR " in line] == [], text


@pytest.mark.parametrize(
    "trigger, url, sig",
    [
        ("start: {type: manual}", "/api/workflows/held/runs?wait=1", signal.SIGTERM),
        ("start: {type: webhook, path: held, respond: sync}", "/webhooks/held", signal.SIGTERM),
        ("start: {type: manual}", "/api/workflows/held/runs?wait=1", signal.SIGINT),
    ],
    ids=["wait-sigterm", "sync-webhook-sigterm", "wait-sigint"],
)
async def test_a_request_waiting_for_a_run_is_answered_when_serve_stops(
    database_url: str, tmp_path: Path, trigger: str, url: str, sig: signal.Signals
) -> None:
    """A `?wait=1` request, or a `respond: sync` delivery, whose run was still going
    when SIGTERM (or Ctrl-C) came got a 500 (its wait cancelled; a sender retries a
    500, and an unkeyed delivery would start a second run) and the log two ERRORs; it
    is answered 202 with the run's links, as past the wait cap: the run resumes at the
    next start. (A database of its own: the run is left unfinished, and another
    test's process would take it over.)"""
    database_url = await new_database(database_url, "cleanstop")
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    gate = tmp_path / "gate"
    (workflows / "held.yaml").write_text(
        f"name: held\nblocks:\n  {trigger}\n  hold:\n    type: function\n"
        "    timeout: 120\n    code: |\n      import os, time\n"
        f"      while not os.path.exists({str(gate)!r}):\n          time.sleep(0.05)\n"
        "      return 1\nedges: [start -> hold]\n"
    )
    server, port, log = _serve(database_url, workflows, tmp_path, grace="1")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await until_healthy(client)
            waiting = asyncio.create_task(
                client.post(url, json={}, headers={"Authorization": "Bearer t"})
            )
            while "block_started" not in await _events_so_far(client):
                await asyncio.sleep(0.1)
            server.send_signal(sig)
            answer = await waiting
        code = await asyncio.to_thread(server.wait, 60)
    finally:
        gate.touch()
        stop([server])
    text = log.read_text()
    assert answer.status_code == 202, answer.text
    assert set(answer.json()) >= {"execution_id", "status_url"}
    assert code == 0, text
    assert [line for line in text.splitlines() if " ERROR " in line] == [], text


async def _events_so_far(client: httpx.AsyncClient) -> str:
    runs = (
        await client.get("/api/runs?workflow=held", headers={"Authorization": "Bearer t"})
    ).json()
    if not runs["runs"]:
        return ""
    eid = runs["runs"][0]["execution_id"]
    return (await client.get(f"/api/runs/{eid}/events", headers={"Authorization": "Bearer t"})).text


async def test_an_open_run_stream_ends_when_serve_stops(database_url: str, tmp_path: Path) -> None:
    """A run page following a run in flight held its server thread through SIGTERM:
    waitress waited 5 s for it (`1 thread(s) still running`) before the engine's grace
    even began. The stream is closed at once; the browser reconnects from its last
    event. (A database of its own: the run is left unfinished.)"""
    database_url = await new_database(database_url, "streamstop")
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    gate = tmp_path / "gate"
    (workflows / "held.yaml").write_text(
        "name: held\nblocks:\n  start: {type: manual}\n  hold:\n    type: function\n"
        "    timeout: 120\n    code: |\n      import os, time\n"
        f"      while not os.path.exists({str(gate)!r}):\n          time.sleep(0.05)\n"
        "      return 1\nedges: [start -> hold]\n"
    )
    server, port, log = _serve(database_url, workflows, tmp_path, grace="1")
    auth = {"Authorization": "Bearer t"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await until_healthy(client)
            run = await client.post("/api/workflows/held/runs", json={}, headers=auth)
            eid = run.json()["execution_id"]
            while "block_started" not in await _events_so_far(client):
                await asyncio.sleep(0.1)
            async with client.stream("GET", f"/api/runs/{eid}/stream", headers=auth) as stream:
                assert stream.status_code == 200
                lines = stream.aiter_lines()
                while "block_started" not in await anext(lines):
                    pass  # the stream is following the run
                server.send_signal(signal.SIGTERM)
                # Closed by the server: an end, or a connection cut mid-body.
                with contextlib.suppress(httpx.RemoteProtocolError, httpx.ReadError):
                    rest = [line async for line in lines]
                    assert "event: end" not in rest  # the run did not end
        code = await asyncio.to_thread(server.wait, 60)
    finally:
        gate.touch()
        stop([server])
    text = log.read_text()
    assert code == 0, text
    assert "still running" not in text, text
    assert [line for line in text.splitlines() if " ERROR " in line] == [], text


async def test_runs_waiting_for_their_key_leave_no_unawaited_coroutine(
    database_url: str, tmp_path: Path
) -> None:
    """Runs waiting behind another with their concurrency key when SIGTERM came
    printed `RuntimeWarning: coroutine 'Resumption._or_continued_later' was never
    awaited` (and `'RunExecution._execute'`): the runs were not lost (they resume at
    the next start), but an operator reads the warning as loss. (A database of its
    own: the runs are left unfinished.)"""
    database_url = await new_database(database_url, "queuedstop")
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    gate, begun = tmp_path / "gate", tmp_path / "begun"
    (workflows / "held.yaml").write_text(
        "name: held\nblocks:\n  hook: {type: webhook, path: held, concurrency_key: <hook.body.key>}\n"
        "  hold:\n    type: function\n    timeout: 120\n    code: |\n      import os, time\n"
        f"      with open({str(begun)!r}, 'a') as f:\n          f.write('run\\n')\n"
        f"      while not os.path.exists({str(gate)!r}):\n          time.sleep(0.05)\n"
        "      return 1\nedges: [hook -> hold]\n"
    )
    server, port, log = _serve(database_url, workflows, tmp_path, grace="0")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await until_healthy(client)
            for order in ("a", "a", "a", "b", "b"):
                resp = await client.post("/webhooks/held", json={"key": order})
                assert resp.status_code == 202, resp.text
            # Both keys' first runs are in their block; the others wait their turn.
            while not begun.exists() or len(begun.read_text().splitlines()) < 2:
                await asyncio.sleep(0.1)
            server.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.wait, 60)
    finally:
        gate.touch()
        stop([server])
    text = log.read_text()
    assert code == 0, text
    assert "serving" in text  # the log is the server's
    assert "never awaited" not in text, text
    assert [line for line in text.splitlines() if " ERROR " in line] == [], text
