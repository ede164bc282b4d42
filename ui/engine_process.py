"""``serve --engine-process``: the engine in a second process, kept alive by the web one.

One Python process cannot use more than one core: in a single ``serve`` the
engine loop and waitress's threads share it. Here the web process accepts runs
and hands them over (engine/handoff.py); the engine process, ``flowyard
engine``, executes them. If it dies, it is started again, and the new one
resumes the runs of the old one from their last completed block, as after any
crash. One that keeps failing (the database is down) is started again less and
less often, down to once every 30 s (as a run waits for the database).

With ``--log-format json`` the engine process's stderr passes through this process:
its log records are JSON lines already, and anything else it writes (the traceback
of a start that failed) becomes one JSON record, so a collector never sees raw text.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("flowyard.ui")
engine_log = logging.getLogger("flowyard.engine")

FIRST_RETRY_S = 1.0
MAX_RETRY_S = 30.0
#: An engine process that ran this long had started well: after it exits, the next
#: one starts at once and the waits between failing ones begin again from the first.
STEADY_S = 60.0
#: Text lines the engine writes close together (a traceback) make one record.
_PAUSE_S = 0.2


class EngineDidNotStart(RuntimeError):
    def __init__(self, code: int | None, said: str) -> None:
        self.code, self.said = code, said
        super().__init__(f"the engine process did not start ({exit_reason(code)}){said}")


def exit_reason(code: int | None) -> str:
    """``exit code 1``, ``killed by SIGKILL``: how a process ended, as its own code says."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class EngineProcess:
    """Starts ``flowyard engine`` and starts it again whenever it exits."""

    def __init__(
        self, workflows_dir: Path, workspace: Path, database_url: str, log_format: str = "text"
    ) -> None:
        self._cmd = [sys.executable, "-m", "ui.cli", "engine", "--workflows", str(workflows_dir),
                     "--log-format", log_format]  # fmt: skip
        self._env = {**os.environ, "DATABASE_URL": database_url}
        self._cwd = workspace
        self._json = log_format == "json"
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: threading.Thread | None = None
        self._last_words = ""  # the last text (not a log record) the engine wrote
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        #: True from its "engine <owner>" line to its exit: what /api/health says.
        self._taking_runs = False
        self.restarts = 0  # engine processes that exited and were started again (/metrics)

    @property
    def state(self) -> str:
        """``running``, or ``restarting`` between an engine process that exited and
        the next one taking runs (GET /api/health): runs are accepted meanwhile, and
        nothing executes them."""
        return "running" if self._taking_runs else "restarting"

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
            self._cmd,
            cwd=self._cwd,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if self._json else None,
            text=True,
        )
        self._proc = proc  # stop() ends it even while it is starting
        self._last_words = ""
        if proc.stderr is not None:
            self._stderr = threading.Thread(target=self._relay_stderr, args=(proc,), daemon=True)
            self._stderr.start()
        line = proc.stdout.readline() if proc.stdout else ""  # "engine <owner id>" when ready
        if not line.startswith("engine "):
            try:  # its stdout closed: it is exiting, with a code of its own
                code = proc.wait(10.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
            if self._stderr is not None:
                self._stderr.join(5.0)  # its last words are relayed (and kept) first
            said = f": {self._last_words}" if self._last_words else ""
            raise EngineDidNotStart(code, said)
        self._taking_runs = True
        log.info("engine process %s is taking runs", line.split(" ", 1)[1].strip())
        # Keep its stdout flowing (an inline Function may print): a full pipe would stall it.
        threading.Thread(target=self._relay, args=(proc,), daemon=True).start()

    @staticmethod
    def _relay(proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)

    def _relay_stderr(self, proc: subprocess.Popen[str]) -> None:
        """JSON lines pass through; other text, gathered while it comes close together
        (a traceback), is logged as one record of this process."""
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        text: list[str] = []
        while True:
            try:
                line = lines.get(timeout=_PAUSE_S if text else None)
            except queue.Empty:
                line = ""
            if line and _is_record(line):
                self._say(text)
                sys.stderr.write(line)
                sys.stderr.flush()
            elif line:
                text.append(line.rstrip("\n"))
            else:  # a pause, or the end
                self._say(text)
                if line is None:
                    return

    def _say(self, text: list[str]) -> None:
        if not text:
            return
        said = "\n".join(text)
        text.clear()
        self._last_words = said.strip().splitlines()[-1] if said.strip() else ""
        level = logging.ERROR if "Traceback (most recent call last)" in said else logging.WARNING
        engine_log.log(level, "the engine process wrote: %s", said)

    def _watch(self) -> None:
        wait = 0.0  # before the next start; grows while starts fail or soon exit again
        while not self._stopping.is_set():
            proc = self._proc
            assert proc is not None
            began = time.monotonic()
            code = proc.wait()
            self._taking_runs = False
            if self._stopping.is_set():
                return
            self.restarts += 1
            if time.monotonic() - began >= STEADY_S:
                wait = 0.0  # it had run well: the next one starts at once
            log.error("the engine process exited (%s); starting it again%s", exit_reason(code),
                      f" in {wait:.0f} s" if wait else "")  # fmt: skip
            while True:
                if self._stopping.wait(wait):
                    return
                wait = min(max(wait * 2, FIRST_RETRY_S), MAX_RETRY_S)
                try:
                    self._spawn()
                    break
                except Exception as exc:
                    if self._stopping.is_set():
                        return
                    log.error("%s; trying again in %.0f s", exc, wait)


def _is_record(line: str) -> bool:
    """A log record of the engine process (``--log-format json``): one JSON object."""
    if not line.startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False
