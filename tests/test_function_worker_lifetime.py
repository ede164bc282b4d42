"""A Function worker process never outlives the engine process that started it, nor
runs far past its call's timeout, whatever the code is doing.

A worker left running after `kill -9` of the server finished its block while the
restarted server resumed the run and ran the block again: two copies at once.
Real processes: a small host program owning a real pool, killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
from held_runs import until as until_async
from processes import free_port, start, stop, until_healthy

from engine._worker_processes import WorkerProcess
from engine.functions import FunctionPool
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

#: Code that never returns by itself, as a block might: blocked in a system call,
#: looping in Python, and inside C code that keeps the GIL (no thread of the worker
#: runs meanwhile).
ENDLESS = {
    "sleep": "import time\ntime.sleep(600)",
    "busy loop": "while True:\n    pass",
    "C code": "sum(range(10**15))",
}

#: Owns a pool of one worker, prints the worker's pid, then runs argv[1] in it.
HOST = """
import asyncio, sys
from engine.functions import FunctionPool

async def main():
    pool = FunctionPool(1)
    await pool.start()
    print(next(iter(pool._all)).process.pid, flush=True)
    await pool.call(sys.argv[1], [], [], {}, [], 600)

asyncio.run(main())
"""


def until(check: Callable[[], bool], deadline_s: float = 10.0) -> bool:
    """Whether ``check`` holds within a generous deadline, polled."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


def gone(pid: int) -> bool:
    try:
        # Killed but not yet reaped by whoever adopted it: dead all the same.
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def started(marker: Path, code: str) -> str:
    """``code`` that first says it runs, by creating ``marker``."""
    return f"open({str(marker)!r}, 'w').close()\n{code}"


@pytest.mark.parametrize("code", ENDLESS.values(), ids=ENDLESS.keys())
def test_a_worker_dies_with_the_process_that_started_it(code: str, tmp_path: Path) -> None:
    marker = tmp_path / "running"
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, started(marker, code)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert host.stdout is not None
        worker = int(host.stdout.readline())
        assert until(marker.exists), "the function never started"
        assert not gone(worker)
        host.kill()
        host.wait()
        assert until(lambda: gone(worker)), f"worker {worker} outlived its killed host"
    finally:
        if host.poll() is None:
            host.kill()
        host.wait()


@pytest.mark.parametrize("code", ENDLESS.values(), ids=ENDLESS.keys())
def test_a_worker_ends_itself_a_little_past_a_timeout_nobody_enforced(
    code: str, tmp_path: Path
) -> None:
    """As when the engine process is stalled: the request is sent, the reply never
    waited for, and the worker is never killed by its parent."""
    marker = tmp_path / "running"
    request = {"code": started(marker, code), "arg_names": [], "args": [], "input": {}}
    worker = WorkerProcess()
    try:
        worker.send(json.dumps({**request, "lib_dirs": [], "timeout": 0.5}).encode())
        assert until(marker.exists), "the function never started"
        assert until(lambda: worker.process.poll() is not None), "it ran on past its timeout"
        assert worker.process.returncode == -signal.SIGALRM
    finally:
        worker.kill()


def test_workers_outlive_the_thread_that_started_the_pool() -> None:
    """The kernel ends a worker when the thread that forked it exits: a pool started
    on an event loop in a thread of its own still has its workers after that thread
    (and its loop's executor threads) ended."""
    pool = FunctionPool(2)

    async def each_worker_answers() -> list[int]:
        # One call each in turn (first come, first served): a worker that answered
        # has run its start-up, where it asks to die with its parent.
        calls = [await pool.call("return 1 + 1", [], [], {}, [], 30) for _ in range(2)]
        return [value for value, _out in calls]

    starter = threading.Thread(target=lambda: asyncio.run(each_worker_answers()))
    starter.start()
    starter.join()
    try:
        pids = [w.process.pid for w in pool._all]
        assert asyncio.run(each_worker_answers()) == [2, 2]
        assert not any(gone(pid) for pid in pids)
    finally:
        asyncio.run(pool.close())


#: `s2` notes "start <pid>" in {log}, waits for {gate}, then notes "end <pid>".
RESUMED = """\
name: {name}
blocks:
  hook: {{type: webhook, path: {path}}}
  s2:
    type: function
    timeout: 120
    code: |
      import os, time
      with open({log!r}, "a") as f:
          f.write(f"start {{os.getpid()}}\\n")
      while not os.path.exists({gate!r}):
          time.sleep(0.05)
      with open({log!r}, "a") as f:
          f.write(f"end {{os.getpid()}}\\n")
      return {{"ok": True}}
edges: [hook -> s2]
"""


async def test_a_run_resumed_after_kill_9_of_serve_runs_its_function_once_at_a_time(
    database_url: str, runtime: Runtime, tmp_path: Path
) -> None:
    """The defect as seen: the killed server's worker finished the block while the
    restarted server ran it again: `start A`, `start B`, `end A`, `end B`."""
    tag = os.urandom(4).hex()
    log, gate, workflows = tmp_path / "log", tmp_path / "gate", tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "resume.yaml").write_text(
        RESUMED.format(name=f"resume_{tag}", path=f"resume-{tag}", log=str(log), gate=str(gate))
    )
    port = free_port()
    env = {
        **os.environ, "DATABASE_URL": database_url, "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_TOKEN": "t", "PYTHONPATH": str(ROOT),
    }  # fmt: skip
    serve = ["serve", "--port", str(port)]
    first = start(serve, env, tmp_path, tmp_path / "first.log")
    second = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
            resp = await client.post(f"/webhooks/resume-{tag}", json={})
            assert resp.status_code == 202, resp.text
            eid = resp.json()["execution_id"]
            # Its first line, whole: the file exists from open(), before the write.
            assert await until_async(lambda: log.exists() and log.read_text().endswith("\n"))
            worker = int(log.read_text().split()[1])
            first.kill()
            await asyncio.to_thread(first.wait)
            second = start(serve, env, tmp_path, tmp_path / "second.log")
            await until_healthy(client)
            assert await until_async(lambda: log.read_text().count("start") == 2)
            assert await asyncio.to_thread(until, lambda: gone(worker)), "the first copy runs on"
        gate.touch()
        result = await runtime.wait(eid, 60)
        assert result["status"] == "succeeded", result["error"]
        lines = log.read_text().split("\n")
        assert [line.split()[0] for line in lines if line] == ["start", "start", "end"]
        assert lines[2] != f"end {worker}"
    finally:
        gate.touch()
        stop([p for p in (first, second) if p is not None])
