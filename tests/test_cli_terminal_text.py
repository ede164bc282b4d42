"""What the CLI prints of a run's data cannot drive the terminal (real embedded
PostgreSQL, the real `flowyard` process).

A block's error quotes data that came from anyone who can reach a webhook: a
Function raising with the body's text, a peer's answer. `flowyard runs show` and
`flowyard run` printed it as it was, control characters and all: an escape
sequence (`ESC ]0;…BEL` sets the window's title, `ESC [2J` clears the screen,
OSC 52 writes the clipboard in many terminals) or a carriage return that writes
over what the line said, on an operator's terminal.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

from test_cli_runs_show import ROOT

from engine.runtime import Runtime

RAISES = """
name: {name}
blocks:
  start: {{type: manual}}
  f:
    type: function
    code: |
      raise ValueError(input.start.text)
edges: [start -> f]
"""

#: Set the title, clear the screen, return to the line's start, C1's CSI, DEL.
HOSTILE = "\x1b]0;pwned\x07\x1b[2Jsucceeded\rfake\x9b31m\x7f"


async def _cli(database_url: str, *args: str) -> tuple[int, str]:
    """The CLI's exit code and output, its bytes as printed (text mode would turn
    a carriage return into a line feed)."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "ui.cli", *args],
        cwd=ROOT, env=env, capture_output=True, timeout=120,
    )  # fmt: skip
    return done.returncode, (done.stdout + done.stderr).decode()


def _no_controls(text: str) -> None:
    for char in "\x1b\x07\r\x9b\x7f":
        assert char not in text, f"{char!r} printed: {text!r}"


async def test_runs_show_prints_no_control_characters_of_a_runs_data(
    runtime: Runtime, write_workflow: Any, database_url: str
) -> None:
    wf = write_workflow(RAISES.format(name=f"ansi_{uuid.uuid4().hex[:8]}"))
    result = await runtime.execute(wf, {"text": HOSTILE})
    assert result["status"] == "failed"
    assert result["error"]["message"].startswith(HOSTILE)  # the record keeps it as it was
    code, shown = await _cli(database_url, "runs", "show", result["execution_id"])
    assert code == 0, shown
    _no_controls(shown)
    # Shown as escapes, so what the message holds is still there to read.
    assert "\\x1b]0;pwned\\x07\\x1b[2Jsucceeded\\rfake\\x9b31m\\x7f" in shown


async def test_run_prints_no_control_characters_of_its_error(
    database_url: str, tmp_path: Any
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(RAISES.format(name=f"ansi_{uuid.uuid4().hex[:8]}"))
    given = '{"text": "\\u001b[2Jsucceeded\\r"}'
    code, printed = await _cli(database_url, "run", str(path), "--input", given)
    assert code == 1, printed
    _no_controls(printed)
    assert "error: \\x1b[2Jsucceeded\\r (line 1) (block f)" in printed


async def test_runs_show_prints_bidirectional_controls_escaped(
    runtime: Runtime, write_workflow: Any, database_url: str
) -> None:
    # U+202E (right-to-left override) reordered the rest of the line in a terminal
    # that lays out bidirectional text: an amount "\u202e0001" read 1000. Shown as
    # its escape, as the run viewer shows it (docs/pages.md).
    wf = write_workflow(RAISES.format(name=f"bidi_{uuid.uuid4().hex[:8]}"))
    result = await runtime.execute(wf, {"text": "refund \u202e0001 \u2067x\u2069"})
    assert result["status"] == "failed"
    code, shown = await _cli(database_url, "runs", "show", result["execution_id"])
    assert code == 0, shown
    assert not any(c in shown for c in "\u202e\u2067\u2069"), shown
    assert "refund \\u202e0001 \\u2067x\\u2069" in shown
