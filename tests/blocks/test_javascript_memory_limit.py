"""JavaScript that allocates without end fails its block at JS_MEMORY_LIMIT, saying
so: it ran V8 into its own heap limit, which is fatal to the whole process ("Fatal
JavaScript out of memory", SIGTRAP) — the server and every run in it, and again on
every restart, as the resumed run ran the code again (real mini-racer)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import py_mini_racer  # noqa: F401 - a test extra: missing, these tests must fail, not skip

from blocks._javascript_evaluation import JS_MEMORY_LIMIT

GROWING = "let a = []; while (true) { a.push('x'.repeat(1e6) + a.length); } return 1;"


def test_code_that_grows_without_end_leaves_the_process_running() -> None:
    # In a process of its own: without the limit, V8 aborts the process it runs in.
    script = (
        "from blocks._javascript import JavaScriptError, run_js_parts\n"
        "try:\n"
        f"    run_js_parts({GROWING!r}, {{}}, 120)\n"
        "except JavaScriptError as exc:\n"
        "    print('failed:', exc)\n"
        "print('still running')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "still running" in done.stdout
    assert f"more than the {JS_MEMORY_LIMIT // 2**20} MiB" in done.stdout


async def test_the_block_fails_saying_so(run_yaml: Any) -> None:
    result = await run_yaml(
        f"""
        version: 1
        name: js_memory
        blocks:
          f:
            type: function
            language: javascript
            timeout: 120
            code: {GROWING!r}
        """
    )
    assert result["status"] == "failed"
    error = result["blocks"]["f"]["error"]
    assert error["block"] == "f"
    assert f"more than the {JS_MEMORY_LIMIT // 2**20} MiB of memory" in error["message"]
    # The next JavaScript call starts from a fresh context, as after a timeout.
    again = await run_yaml(
        """
        version: 1
        name: js_after_memory
        blocks:
          f: {type: function, language: javascript, code: "return {ok: 1};"}
        """
    )
    assert again["output"] == {"ok": 1}
