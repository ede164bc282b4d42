"""The workflows folder as `serve` watches it: an edit is seen even when it keeps the
file's size and modification time (`cp -p`, `rsync -t`, a same-length change)."""

from __future__ import annotations

import os
from pathlib import Path

from engine.workflows import WorkflowStore

TEXT = "name: kept\nblocks:\n  start: {type: manual}\n  f: {type: function, code: return 1}\nedges: [start -> f]\n"


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(tmp_path: Path) -> None:
    file = tmp_path / "kept.yaml"
    file.write_text(TEXT)
    store = WorkflowStore(tmp_path)
    assert store.load("kept").blocks["f"].config["code"] == "return 1"
    before = file.stat()
    file.write_text(TEXT.replace("return 1", "return 2"))  # same length
    os.utime(file, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime set back, as cp -p does
    assert file.stat().st_mtime_ns == before.st_mtime_ns and file.stat().st_size == before.st_size
    assert store.load("kept").blocks["f"].config["code"] == "return 2"
