"""What a loop or parallel collects in `results`: at most what a run record keeps of
an output (engine/_recordable.py, 64 MiB of JSON).

Each iteration's (item's, branch's) last body output is kept until the container
ends; unbounded, a loop of 10,000 iterations returning a few megabytes each held
tens of gigabytes, and the server (with every run in it) was killed before the
loop's record could say it was too big to keep. The size is counted as each output
is collected, from what the run log already encoded of it (engine/recorder.py,
``RunRecorder.encoded``), else by encoding it here; past the cap the container
fails, not retried (the same body returns the same outputs).
"""

from __future__ import annotations

from typing import Any

import engine._recordable
from engine._json import dumps


class ResultsTooLarge(RuntimeError):
    """A container's `results` grown past what a run record keeps: it stopped there."""

    retriable = False


class Collected:
    """The characters of JSON of a container's `results` so far (``add`` each output)."""

    def __init__(self, container: str, kind: str, advice: str) -> None:
        self.container = container  # "loop", "parallel"
        self.kind = kind  # "iterations", "items", "branches"
        self.advice = advice
        self.cap = engine._recordable.MAX_RECORDED_CHARS  # read now: tests lower it
        self.chars = 2  # [] or {}
        self.count = 0

    def add(self, output: Any, chars: int | None, key: str | None = None) -> None:
        """Count one more output (``chars``: its JSON's size, None to measure it;
        ``key``: its branch name, which `results` holds too)."""
        self.chars += (len(dumps(output)) if chars is None else chars) + 1
        if key is not None:
            self.chars += len(key) + 3
        self.count += 1
        if self.chars > self.cap:
            raise ResultsTooLarge(
                f"the {self.container}'s results are over the {self.cap:,} characters of JSON a run record keeps"
                f" of an output after {self.count:,} {self.kind}, so it stopped there:"
                f" {self.advice}"
            )
