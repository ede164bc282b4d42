"""Function workers that die while idle, between calls: no run pays for it.

Real worker processes, killed with SIGKILL as the out-of-memory killer or an
operator would.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from held_runs import until

from engine.functions import FunctionPool

PID = "import os\nreturn os.getpid()"


def worker_pids() -> set[int]:
    """This process's function workers now running (zombies included)."""
    pids = set()
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"engine._function_worker" in cmdline or not cmdline:  # a zombie has none
                pids.add(int(pid))
    return pids


def state(pid: int) -> str:
    """The process's state letter (Z: exited, not yet reaped), or "gone"."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return stat.rsplit(")", 1)[1].split()[0]


def kill_and_wait_for_exit(pid: int) -> None:
    """SIGKILL, then wait without yielding to the event loop until the process has
    exited: nothing in this process notices the death before the next call."""
    os.kill(pid, signal.SIGKILL)
    for _ in range(1000):
        if state(pid) in ("Z", "gone"):
            return
        time.sleep(0.01)
    raise AssertionError(f"worker {pid} did not exit")


async def test_workers_killed_while_idle_fail_no_later_call() -> None:
    before = worker_pids()
    pool = FunctionPool(size=2)
    await pool.start()
    try:
        idle = worker_pids() - before
        assert len(idle) == 2
        for pid in idle:
            kill_and_wait_for_exit(pid)
        value, _ = await pool.call(PID, [], [], {}, [], 30)
        assert value not in idle
        again, _ = await pool.call(PID, [], [], {}, [], 30)
        assert again not in idle
    finally:
        await pool.close()


async def test_a_worker_killed_while_idle_is_reaped_and_replaced_at_once() -> None:
    """Before any call: `serve --engine-process`'s web process never calls its pool, so
    a worker killed there stayed a zombie (`[python] <defunct>`) for good."""
    before = worker_pids()
    pool = FunctionPool(size=2)
    await pool.start()
    try:
        idle = worker_pids() - before
        victim = min(idle)
        kill_and_wait_for_exit(victim)
        assert await until(lambda: state(victim) == "gone"), state(victim)
        assert await until(lambda: len(worker_pids() - before) == 2)
        replacement = worker_pids() - before - idle
        assert len(replacement) == 1 and state(replacement.pop()) != "Z"
    finally:
        await pool.close()
