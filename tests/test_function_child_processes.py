"""A process a Python Function started (``subprocess.run(["curl", …])``) ends with
the worker when the worker is killed: at the Function's timeout, or when the run is
stopped. It outlived it, adopted by init: a hung child stayed for good, and one
that went on (a request, a script) made its effect after the block had failed —
and again with each retry.

Real worker processes on the session runtime, real child processes, embedded
PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

from held_runs import until


def _state(pid: int) -> str:
    """The process's state letter (Z: exited, not yet reaped), or "gone"."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return stat.rsplit(")", 1)[1].split()[0]


async def test_a_child_of_a_timed_out_function_ends_with_its_worker(
    run_yaml, tmp_path: Path
) -> None:
    said = tmp_path / "child.pid"
    result = await run_yaml(
        f"""
        name: child_processes
        blocks:
          start: {{type: manual}}
          f:
            type: function
            timeout: 1
            code: |
              import subprocess
              child = subprocess.Popen(["sleep", "4242"])
              open({str(said)!r}, "w").write(str(child.pid))
              child.wait()
        edges: [start -> f]
        """
    )
    assert result["error"]["type"] == "TimeoutError", result["error"]
    pid = int(said.read_text())
    assert await until(lambda: _state(pid) in ("Z", "gone")), f"child {pid} still runs"
