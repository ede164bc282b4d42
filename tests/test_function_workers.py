"""The Function block's worker processes, as runs share them: a block's `timeout`
counts its own execution, not the wait for a free worker.

Real worker processes (the session runtime has two) and the embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from held_runs import until

from engine.functions import pool_size
from engine.model import Workflow
from engine.runtime import Runtime

#: Two functions that hold both workers of the session runtime until {gate} exists.
HOG = """
name: hog
blocks:
  start: {{type: manual}}
  one: {{type: function, timeout: 120, code: "{wait}\\nreturn 1"}}
  two: {{type: function, timeout: 120, code: "{wait}\\nreturn 2"}}
edges: [start -> one, start -> two]
"""
WAIT = "import os, time\\nwhile not os.path.exists({gate!r}): time.sleep(0.02)"


async def _started(runtime: Runtime, eid: str, blocks: set[str]) -> bool:
    events = await runtime.run_events(eid)
    return blocks <= {e["block"] for e in events if e["type"] == "block_started"}


async def test_the_wait_for_a_free_worker_does_not_count_against_the_timeout(
    runtime: Runtime, write_workflow: Callable[..., Workflow], tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    hog = await runtime.submit(write_workflow(HOG.format(wait=WAIT.format(gate=str(gate)))), {})
    victim = write_workflow(
        """
        name: victim
        blocks:
          start: {type: manual}
          add: {type: function, timeout: 0.5, code: "return <start.n> + 1"}
        edges: [start -> add]
        """
    )
    try:
        assert await until(lambda: _started(runtime, hog.execution_id, {"one", "two"}))
        sub = await runtime.submit(victim, {"n": 1})
        assert await until(lambda: _started(runtime, sub.execution_id, {"add"}))
        await asyncio.sleep(1.0)  # twice its timeout, waiting for a worker
    finally:
        gate.touch()
    result = await runtime.wait(sub.execution_id, timeout=60)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"result": 2}
    assert (await runtime.wait(hog.execution_id, timeout=60))["status"] == "succeeded"


async def test_the_timeout_still_stops_the_code_itself(
    runtime: Runtime, write_workflow: Callable[..., Workflow]
) -> None:
    wf = write_workflow(
        """
        name: sleeper
        blocks:
          start: {type: manual}
          nap: {type: function, timeout: 0.5, code: "import time\\ntime.sleep(60)"}
        edges: [start -> nap]
        """
    )
    result = await runtime.execute(wf, {})
    assert result["status"] == "failed"
    assert result["error"] == {
        "type": "TimeoutError",
        "message": "function exceeded its timeout of 0.5 s",
        "block": "nap",
    }


def test_the_pool_size_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWYARD_FUNCTION_WORKERS", " 3 ")
    assert pool_size() == 3
    monkeypatch.setenv("FLOWYARD_FUNCTION_WORKERS", "")
    assert 2 <= pool_size() <= 8
    monkeypatch.setenv("FLOWYARD_FUNCTION_WORKERS", "0")
    with pytest.raises(ValueError, match="FLOWYARD_FUNCTION_WORKERS='0'"):
        pool_size()


# -- shared modules in lib/ ---------------------------------------------------------------

#: Each of two items reaches the barrier before importing, so both workers of the
#: session runtime import the module (a run per worker would depend on which one
#: the pool hands out).
BOTH_WORKERS = """
name: lib_users_{suffix}
blocks:
  start: {{type: manual}}
  fan: {{type: parallel, items: [a, b], as: who, body: [read]}}
  read:
    type: function
    timeout: 60
    code: |
      import os, time
      open(os.path.join(<start.barrier>, <who>), "w").close()
      while len(os.listdir(<start.barrier>)) < 2:
          time.sleep(0.01)
      from {module} import VALUE
      return VALUE
  inline:
    type: function
    isolation: inline
    code: |
      from {module} import VALUE
      return VALUE
edges: [start -> fan, start -> inline]
"""


async def test_a_changed_lib_module_is_used_by_every_later_run(
    runtime: Runtime, write_workflow: Callable[..., Workflow], tmp_path: Path, monkeypatch
) -> None:
    """Both workers and inline functions (the engine's own process) imported the
    module; after it is edited, every one of them uses the new version. The edit
    keeps the file's size and modification time (`cp -p`, `rsync -t`): Python's
    cached bytecode alone would not tell it from the old one."""
    from engine import function_libs

    # Looked at on every call: the test does not wait out the look interval.
    monkeypatch.setattr(function_libs, "LOOK_EVERY_S", 0.0)
    monkeypatch.setattr(function_libs, "LOOK_SHARE", 1.0)
    # Inline functions import in this process: let it cache bytecode, as a deployment
    # does (the test environment may say not to).
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    module = f"shared_{tmp_path.name.replace('-', '_')}"
    (tmp_path / "lib").mkdir()
    source = tmp_path / "lib" / f"{module}.py"
    source.write_text("VALUE = 1\n")
    os.utime(source, (1_700_000_000, 1_700_000_000))  # an older file: its bytecode is cached
    wf = write_workflow(BOTH_WORKERS.format(suffix=tmp_path.name[-6:], module=module))

    async def values(round_: str) -> list[int]:
        barrier = tmp_path / round_
        barrier.mkdir()
        result = await runtime.execute(wf, {"barrier": str(barrier)})
        assert result["status"] == "succeeded", result["error"]
        fan = result["blocks"]["fan"]["output"]["results"]
        return [r["result"] for r in fan] + [result["blocks"]["inline"]["output"]["result"]]

    assert await values("before") == [1, 1, 1]
    mtime = source.stat().st_mtime_ns
    source.write_text("VALUE = 2\n")
    os.utime(source, ns=(mtime, mtime))
    assert await values("after") == [2, 2, 2]
    (tmp_path / "lib" / "__init__.py").write_text("")  # a new file: a change too
    source.write_text("VALUE = 3\n")
    assert await values("again") == [3, 3, 3]


# -- what a call leaves behind --------------------------------------------------------------

#: In both workers (the barrier, as above) and inline: {code}; {in_worker} in the workers
#: only (inline code runs in the engine's process, whose working directory is its own).
STATE = """
name: state_{suffix}
blocks:
  start: {{type: manual}}
  fan: {{type: parallel, items: [a, b], as: who, body: [worker]}}
  worker:
    type: function
    timeout: 60
    code: |
      import builtins, os, time
      open(os.path.join(<start.barrier>, <who>), "w").close()
      while len(os.listdir(<start.barrier>)) < 2:
          time.sleep(0.01)
      {in_worker}
      {code}
  inline:
    type: function
    isolation: inline
    code: |
      import builtins, os
      {code}
edges: [start -> fan, start -> inline]
"""
LEAK = """builtins.flowyard_leak = 1
      builtins.ascii = lambda _: "replaced"
      os.environ["FLOWYARD_LEAK"] = "1"
      os.environ.pop("PATH", None)
      return 0"""
LOOK = """return [hasattr(builtins, "flowyard_leak"), ascii("a"),
              os.environ.get("FLOWYARD_LEAK"), "PATH" in os.environ, os.getcwd() != "/"]"""


async def test_builtins_and_the_environment_a_function_changes_do_not_leak(
    runtime: Runtime, write_workflow: Callable[..., Workflow], tmp_path: Path, monkeypatch
) -> None:
    """One workflow's functions add and replace builtins, set and unset environment
    variables (and change a worker's directory), in both workers and inline; another
    workflow's functions, run after it in the same processes, see none of it
    (JavaScript functions never could)."""
    monkeypatch.setenv("FLOWYARD_KEPT", "yes")  # the host's own change (inline: same process)

    async def run(name: str, code: str, in_worker: str = "pass") -> list[Any]:
        barrier = tmp_path / name
        barrier.mkdir()
        wf = write_workflow(STATE.format(suffix=name, code=code, in_worker=in_worker))
        result = await runtime.execute(wf, {"barrier": str(barrier)})
        assert result["status"] == "succeeded", result["error"]
        fan = result["blocks"]["fan"]["output"]["results"]
        return [r["result"] for r in fan] + [result["blocks"]["inline"]["output"]["result"]]

    assert await run("leak", LEAK, in_worker='os.chdir("/")') == [0, 0, 0]
    assert await run("look", LOOK) == [[False, "'a'", None, True, True]] * 3
    assert os.environ.get("FLOWYARD_LEAK") is None and os.environ["FLOWYARD_KEPT"] == "yes"


# -- how a function ended, in words ------------------------------------------------------------


@pytest.mark.parametrize("isolation", ["process", "inline"])
@pytest.mark.parametrize(
    ("code", "kind", "says"),
    [
        ("import sys\\nsys.exit(3)", "SystemExit", "the code called sys.exit(3) (line 2)"),
        ("raise KeyboardInterrupt", "KeyboardInterrupt", "raised KeyboardInterrupt (line 1)"),
        # Other BaseExceptions: the worker died ("exited with code 1"); inline, the run's
        # task ended on it, the run never ended and was taken over again every minute,
        # or (CancelledError) the run said `cancelled` though nobody had cancelled it.
        ("raise GeneratorExit", "GeneratorExit", "raised GeneratorExit (line 1)"),
        ("import asyncio\\nraise asyncio.CancelledError()", "CancelledError", "raised Cancel"),
        ("class Stop(BaseException): pass\\nraise Stop('no')", "Stop", "no (line 2)"),
    ],
)
async def test_exiting_code_fails_its_block_saying_so(
    run_yaml, isolation: str, code: str, kind: str, says: str
) -> None:
    """The worker died ("out of memory or killed"); inline, the exception went through
    the engine's event loop."""
    result = await run_yaml(
        f"""
        name: exits
        blocks:
          start: {{type: manual}}
          quit: {{type: function, isolation: {isolation}, code: "{code}"}}
        edges: [start -> quit]
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["type"] == kind
    assert result["error"]["message"].startswith(says), result["error"]
    again = await run_yaml(
        "name: after\nblocks:\n  s: {type: manual}\n"
        f"  f: {{type: function, isolation: {isolation}, code: 'return 2'}}\nedges: [s -> f]\n"
    )
    assert again["output"] == {"result": 2}


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("import os\\nos._exit(3)", "it exited with code 3"),
        ("import os, signal\\nos.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL"),
    ],
)
async def test_a_worker_that_dies_says_how(run_yaml, code: str, says: str) -> None:
    result = await run_yaml(
        f"""
        name: dies
        blocks:
          start: {{type: manual}}
          die: {{type: function, code: "{code}"}}
        edges: [start -> die]
        """
    )
    assert result["error"]["type"] == "WorkerDied"
    assert says in result["error"]["message"], result["error"]


@pytest.mark.parametrize("size", [70_000, 3_000_000])
async def test_a_reply_or_input_bigger_than_a_pipe_buffer_crosses_whole(
    run_yaml, size: int
) -> None:
    # A pipe holds 64 KiB: the reply arrives in pieces, and the engine's loop (uvloop)
    # reads the worker's pipe without blocking.
    result = await run_yaml(
        f"""
        name: big_reply
        blocks:
          start: {{type: manual}}
          big: {{type: function, code: "return {{'items': ['z' * 100 for _ in range({size // 100})]}}"}}
          echo: {{type: function, code: "return {{'n': len(<big.items>), 'last': <big.items>[-1]}}"}}
        edges: [start -> big, big -> echo]
        """
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"n": size // 100, "last": "z" * 100}
