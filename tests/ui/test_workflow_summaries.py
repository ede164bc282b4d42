"""The runs list and the index ask for every workflow file's summary on each call (the
runs page polls every 3 s): a file is parsed again only once it changed — 500 files
parsed on every call took seconds of server CPU each time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ui import workflow_files as wf


def test_a_summary_is_read_again_only_when_its_file_changed(
    tmp_path: Path, monkeypatch: Any
) -> None:
    reads: list[Path] = []
    real = wf._summary
    monkeypatch.setattr(wf, "_summary", lambda p: reads.append(p) or real(p))
    file = tmp_path / "a.yaml"
    file.write_text("name: first\nblocks:\n  s: {type: manual}\n")
    assert wf.summary(file)["title"] == "first"
    assert wf.summary(file)["title"] == "first"
    assert reads == [file]
    file.write_text("name: second\nblocks:\n  s: {type: manual}\n")
    assert wf.summary(file)["title"] == "second" and len(reads) == 2
    wf.summary(file)["title"] = "changed by a caller"  # a copy: the cache is not touched
    assert wf.summary(file)["title"] == "second"
    file.unlink()
    assert wf.summary(file)["broken"] is True
