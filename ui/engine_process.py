"""``serve --engine-process``: the engine in a second process, kept alive by the web one.

One Python process cannot use more than one core: in a single ``serve`` the
engine loop and waitress's threads share it. Here the web process accepts runs
and hands them over (engine/handoff.py); the engine process, ``flowyard
engine``, executes them. If it dies, it is started again, and the new one
resumes the runs of the old one from their last completed block, as after any
crash.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger("flowyard.ui")


class EngineProcess:
    """Starts ``flowyard engine`` and starts it again whenever it exits."""

    def __init__(
        self, workflows_dir: Path, workspace: Path, database_url: str, log_format: str = "text"
    ) -> None:
        self._cmd = [sys.executable, "-m", "ui.cli", "engine", "--workflows", str(workflows_dir),
                     "--log-format", log_format]  # fmt: skip
        self._env = {**os.environ, "DATABASE_URL": database_url}
        self._cwd = workspace
        self._proc: subprocess.Popen[str] | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name="flowyard-engine-watch", daemon=True
        )
        self._watcher.start()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM: the engine stops, leaving unfinished runs to resume."""
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _spawn(self) -> None:
        proc = subprocess.Popen(
            self._cmd, cwd=self._cwd, env=self._env, stdout=subprocess.PIPE, text=True
        )
        line = proc.stdout.readline() if proc.stdout else ""  # "engine <owner id>" when ready
        if not line.startswith("engine "):
            proc.kill()
            raise RuntimeError(f"the engine process did not start (exit code {proc.wait()})")
        self._proc = proc
        log.info("engine process %s is taking runs", line.split(" ", 1)[1].strip())
        # Keep its stdout flowing (an inline Function may print): a full pipe would stall it.
        threading.Thread(target=self._relay, args=(proc,), daemon=True).start()

    @staticmethod
    def _relay(proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            code = proc.wait()
            if self._stopping.is_set():
                return
            log.error("the engine process exited (code %s); starting it again", code)
            try:
                self._spawn()
            except Exception:
                log.exception("could not start the engine process; trying again")
                self._stopping.wait(1.0)
