"""A workflow of one Function block after a manual start, for tests of what a
Function's code does."""

from __future__ import annotations


def one_function(name: str, code: str, isolation: str = "process") -> str:
    """YAML of workflow ``name``: ``start`` (manual) -> ``f`` running ``code``."""
    body = "\n".join("      " + line for line in code.strip("\n").splitlines())
    return f"""name: {name}
blocks:
  start: {{type: manual}}
  f:
    type: function
    isolation: {isolation}
    code: |
{body}
edges: [start -> f]
"""
