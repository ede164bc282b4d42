"""`serve --engine-process`: an engine process that cannot start again (the database
is gone) is restarted less and less often, each failure is told with its own exit
code, and with --log-format json its traceback reaches stderr as a JSON record.

It was restarted in a tight loop, every failure logged as "the engine process exited
(code -9)" (the code of the process killed before it), with hundreds of raw
traceback lines in a JSON log."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from processes import eventually

from ui.engine_process import EngineProcess

ROOT = Path(__file__).resolve().parent.parent


def test_an_engine_process_that_cannot_start_backs_off_and_logs_json(
    relayed_url: tuple[str, str, Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO)
    monkeypatch.chdir(ROOT)  # `python -m ui.cli` finds the package from here
    _direct, through, relay = relayed_url
    (tmp_path / "workflows").mkdir()
    engine = EngineProcess(tmp_path / "workflows", tmp_path, through, "json")
    engine.start()
    try:
        relay.cut()  # the database stops
        assert engine._proc is not None
        os.kill(engine._proc.pid, signal.SIGKILL)

        def failures() -> list[str]:
            return [r.getMessage() for r in caplog.records if "did not start" in r.getMessage()]

        assert eventually(lambda: len(failures()) >= 3), caplog.text
    finally:
        engine.stop()
    exits = [r.getMessage() for r in caplog.records if "engine process exited" in r.getMessage()]
    assert exits == ["the engine process exited (killed by SIGKILL); starting it again"]
    # Each failure with the engine's own exit code and its last words, and the waits
    # between tries growing: 1, 2, 4 s.
    for message in failures()[:3]:
        assert re.match(r"the engine process did not start \(exit code 1\): \w+Error", message)
    waits = [int(re.search(r"trying again in (\d+) s", m)[1]) for m in failures()[:3]]
    assert waits == [1, 2, 4]
    # The tracebacks of the failed starts: one record each, not lines of raw text.
    wrote = [r for r in caplog.records if r.name == "flowyard.engine"]
    assert len(wrote) >= 3 and all("Traceback" in r.getMessage() for r in wrote)
    for line in capfd.readouterr().err.splitlines():  # what else the engine wrote
        assert isinstance(json.loads(line), dict), line
