"""The web server's "Task queue depth is N" warning is said once a minute at most,
with how many were not shown: waitress writes it for every request that waits for
a thread, so a burst of 1,500 webhook deliveries wrote 1,677 lines, and traffic
past FLOWYARD_THREADS wrote a line per request for as long as it lasted (real
waitress task dispatcher and logging configuration, in a process of their own)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
from waitress.task import ThreadedTaskDispatcher
import ui.logs
ui.logs.configure_logging()
dispatcher = ThreadedTaskDispatcher()  # no threads: every task waits
for _ in range(500):
    dispatcher.add_task(object())
print("burst over", file=sys.stderr, flush=True)
ui.logs.QUEUE_WARNING_EVERY_S = 0.0  # as if the minute had passed
dispatcher.add_task(object())
"""


def test_a_burst_of_queued_requests_is_said_once_then_counted() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    burst, after = done.stderr.split("burst over\n")
    lines = [ln for ln in burst.splitlines() if "Task queue depth" in ln]
    assert len(lines) == 1 and lines[0].endswith("Task queue depth is 1"), burst[:2000]
    [line] = after.splitlines()
    assert line.endswith(
        "Task queue depth is 501 (499 more such warnings since the last one shown; the"
        " deepest queue was 500)"
    )
