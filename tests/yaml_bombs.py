"""Workflow files whose YAML aliases multiply them (black-box tester bb80's)."""

from __future__ import annotations

LOL = '["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'


def nine_times(levels: int, indent: str = "  ") -> str:
    """Anchors a0..a<levels>, each a list of nine aliases of the one before."""
    lines = [f"{indent}a0: &a0 {LOL}"]
    for n in range(1, levels + 1):
        lines.append(f"{indent}a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


#: 392 bytes that held 597,871 values: a 7.7 MB 422 body.
BOMB_IN_DEFS = (
    f"version: 1\nname: bomb5\ndefs:\n{nine_times(5)}"
    "blocks:\n  s: {type: manual, input_schema: *a5}\nedges: []\n"
)
#: Valid but for its size: it saved (201), and its GET answered 39 MB.
BOMB_IN_SCHEMA = (
    "version: 1\nname: bomb2\nblocks:\n  s:\n    type: manual\n    input_schema:\n"
    f"      type: object\n{nine_times(6, indent='      x-')}edges: []\n"
)
#: Under the bound (59,049 values), but invalid: each message quoted the whole list.
UNDER_THE_BOUND = (
    f"version: 1\nname: bomb4\ndefs:\n{nine_times(4)}"
    "blocks:\n  s: {type: manual, input_schema: *a4}\nedges: []\n"
)
