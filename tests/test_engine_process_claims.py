"""`serve --engine-process`: a handed-over run whose row another statement holds for
a moment when it is announced (a repeated delivery checking its idempotency key
locks it) is still claimed, before any later run of its key.

The claim skipped locked rows and only ever looked at the announced ids: such a
run stayed `queued` (owner `handoff`) until 5 s passed with no delivery at all,
and then ran after the later runs of its key."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import psutil
from processes import free_port, start, stop, until_healthy

ROOT = Path(__file__).resolve().parent.parent

KEYED = """
name: {name}
blocks:
  hook:
    type: webhook
    path: {path}
    concurrency_key: <hook.body.key>
  note:
    type: function
    isolation: inline
    code: |
      with open({log!r}, "a") as f:
          f.write(f"{{<hook.body.key>}}:{{<hook.body.n>}}\\n")
      return {{"n": <hook.body.n>}}
edges: [hook -> note]
"""

_OWNER = "SELECT owner, status FROM flowyard_runs WHERE execution_id = $1::uuid"


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll every 0.1 s, up to a minute: a bound only, so a hang fails the test."""
    for _ in range(600):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}")


async def test_a_run_locked_when_announced_is_claimed_before_later_runs_of_its_key(
    database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "log"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    tag = tmp_path.name[-8:].replace("-", "_")
    path = f"claims-{tag}"
    (workflows / "keyed.yaml").write_text(
        KEYED.format(name=f"claims_{tag}", path=path, log=str(log))
    )
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLOWYARD_QUEUE": f"claims-{tmp_path.name}",
        "FLOWYARD_WORKFLOWS": str(workflows),
        "PYTHONPATH": str(ROOT),
    }
    server = start(
        ["serve", "--port", str(port), "--engine-process"], env, tmp_path, tmp_path / "serve.log"
    )
    db = await asyncpg.connect(database_url)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)

            async def deliver(key: str, n: int) -> str:
                resp = await client.post(f"/webhooks/{path}", json={"key": key, "n": n})
                assert resp.status_code == 202, resp.text
                return resp.json()["execution_id"]

            async def ended(eid: str) -> bool:
                return (await db.fetchrow(_OWNER, eid))["status"] in ("succeeded", "failed")

            # Only the engine process claims handed-over runs, and it listens before
            # it first claims: once this run ended, announcements reach it.
            warm = await deliver("warm", 0)
            await _until(lambda: ended(warm), "the engine process ran a first run")
            [engine] = [c for c in psutil.Process(server.pid).children() if "engine" in c.cmdline()]

            # The run is accepted while the engine process cannot look, and its row
            # is locked (as a repeated delivery does) before the announcement is read.
            engine.send_signal(signal.SIGSTOP)
            try:
                first = await deliver("k", 1)
                holding = db.transaction()
                await holding.start()
                await db.execute(
                    "SELECT 1 FROM flowyard_runs WHERE execution_id = $1::uuid FOR UPDATE", first
                )
            finally:
                engine.send_signal(signal.SIGCONT)
            try:
                later = await deliver("k", 2)
                me = db.get_server_pid()
                watcher = await asyncpg.connect(database_url)
                try:

                    async def claim_waits_or_later_taken() -> bool:
                        waiting = await watcher.fetchval(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE $1 = ANY(pg_blocking_pids(pid))",
                            me,
                        )
                        owner = (await watcher.fetchrow(_OWNER, later))["owner"]
                        return waiting > 0 or owner != "handoff"

                    await _until(claim_waits_or_later_taken, "the engine process claimed")
                finally:
                    await watcher.close()
            finally:
                await holding.rollback()

            # Deliveries keep arriving: the run is not left waiting for a quiet moment.
            other = await deliver("other", 3)
            await _until(lambda: ended(other), "a run of another key ended")
            assert (await db.fetchrow(_OWNER, first))["owner"] != "handoff"
            await _until(lambda: ended(first), "the locked run ended")
            await _until(lambda: ended(later), "the later run ended")
        # Its key's runs executed in the order they arrived.
        assert [line for line in log.read_text().split() if line.startswith("k:")] == [
            "k:1",
            "k:2",
        ]
    finally:
        await db.close()
        stop([server])
