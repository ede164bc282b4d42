"""A run held in a Function block until a gate file exists, and a poll helper: for
tests that act on a run while it runs (takeovers, resumes, cancels)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

#: A block that writes "hold" to {log} and waits for {gate} (workflows add it as
#: their `hold` block).
HOLD = """
  hold:
    type: function
    timeout: 120
    code: |
      import os, time
      with open({log!r}, "a") as f:
          f.write("hold\\n")
      while not os.path.exists({gate!r}):
          time.sleep(0.05)
      return {{"held": True}}"""

#: `hold` writes "hold" to {log} and waits for {gate}; `after` writes "after".
HELD = (
    """
name: held_{suffix}
blocks:
  start: {{type: manual}}"""
    + HOLD
    + """
  after:
    type: function
    code: |
      with open({log!r}, "a") as f:
          f.write("after\\n")
      return {{"done": <hold.held>}}
edges: [start -> hold, hold -> after]
"""
)


async def until(check: Callable[[], Any], attempts: int = 300) -> bool:
    """Poll ``check`` (plain or async) every 0.1 s, up to ~30 s; True once it holds."""
    for _ in range(attempts):
        found = check()
        if inspect.isawaitable(found):
            found = await found
        if found:
            return True
        await asyncio.sleep(0.1)
    return False
