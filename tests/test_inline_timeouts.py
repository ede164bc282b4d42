"""An inline Function's timeout stops code that catches the timeout's exception.

Inline code runs on the engine's own thread, so code the watchdog cannot stop holds
every run of the process (and its heartbeat: another process then takes the run over
and is held the same way). A bare ``except:`` in the code's loop caught the one
exception the watchdog raised, and the loop went on. Each test runs the real engine,
with the code in this process, as `serve` runs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The loop gives up by itself after 20 s, so a watchdog that cannot stop it fails the
# test (the end marker is written) instead of hanging it.
SWALLOWS = """
import time
def work():
    for i in range(10 ** 5):
        pass
give_up = time.monotonic() + 20
caught = 0
while time.monotonic() < give_up:
    try:
        {loop}
    except{what}:
        caught += 1
open({end!r}, "w").write(str(caught))
return {{"caught": caught}}
"""


@pytest.mark.parametrize(
    ("loop", "what"),
    [
        ("for i in range(10 ** 6): pass", ""),  # a bare except around the hot loop
        ("work()", " BaseException"),  # the hot loop in a function the code calls
    ],
    ids=["bare_except", "in_a_called_function"],
)
async def test_code_that_catches_the_timeout_is_stopped_all_the_same(
    run_yaml, tmp_path: Path, loop: str, what: str
) -> None:
    end = tmp_path / "reached-its-end"
    code = SWALLOWS.format(loop=loop, what=what, end=str(end))
    indented = "\n".join(" " * 14 + line for line in code.strip().splitlines())
    tracer = sys.gettrace()
    result = await run_yaml(
        f"""
        name: swallows_timeout
        blocks:
          start: {{type: manual}}
          spin:
            type: function
            isolation: inline
            timeout: 0.5
            code: |
{indented}
        edges: [start -> spin]
        """
    )
    assert result["status"] == "failed"
    assert result["error"]["type"] == "TimeoutError", result["error"]
    assert result["error"]["block"] == "spin"
    assert not end.exists(), "the code ran on to its own end past its timeout"
    # What stopped it is gone: the engine's thread traces nothing afterwards.
    assert sys.gettrace() is tracer
    after = await run_yaml(
        "name: after_swallow\nblocks:\n  s: {type: manual}\n"
        "  f: {type: function, isolation: inline, code: 'return 2'}\nedges: [s -> f]\n"
    )
    assert after["status"] == "succeeded" and after["output"] == {"result": 2}
