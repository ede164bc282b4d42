"""Two workflow files with one `name:`: lookups by that name would pick one of them
silently, and their runs, schedules and concurrency keys would share the name.
Saving or validating such a pair says so; loading one names both files and the
first file by file name wins (docs/engine.md, "Workflow names")."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file
from engine.workflows import WorkflowStore

ROOT = Path(__file__).resolve().parent.parent


def _named(folder: Path, stem: str, name: str, result: str = "1") -> Path:
    file = folder / f"{stem}.yaml"
    file.write_text(
        textwrap.dedent(f"""\
        name: {name}
        blocks:
          start: {{type: manual}}
          work:
            type: function
            code: |
              return {{"from": "{result}"}}
        edges: [start -> work]
        """)
    )
    return file


def test_the_store_names_the_file_that_already_has_the_name(tmp_path: Path) -> None:
    _named(tmp_path, "first", "Shared")
    store = WorkflowStore(tmp_path)
    second = load_file(_named(tmp_path, "second", "Shared"))
    [problem] = store.name_clashes(second)
    assert (problem.file, problem.block, problem.field) == (second.file, None, "name")
    assert "workflow name 'Shared' is already the name of first.yaml" in problem.message
    # A file never clashes with itself, and another name is no clash.
    [back] = store.name_clashes(load_file(tmp_path / "first.yaml"))
    assert back.file.endswith("first.yaml") and back.message.endswith("name of second.yaml")
    assert store.name_clashes(load_file(_named(tmp_path, "third", "Other"))) == []
    (tmp_path / "second.yaml").unlink()
    assert store.name_clashes(load_file(tmp_path / "first.yaml")) == []


def test_by_name_the_first_file_by_file_name_wins_and_the_clash_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Written in reverse order, so neither mtime nor creation order decides.
    _named(tmp_path, "zz_copy", "Shared", "zz")
    _named(tmp_path, "aa_orig", "Shared", "aa")
    store = WorkflowStore(tmp_path)
    with caplog.at_level(logging.WARNING, logger="flowyard.workflows"):
        assert Path(store.load("Shared").file).name == "aa_orig.yaml"
        assert Path(store.load("Shared").file).name == "aa_orig.yaml"
    said = [r.getMessage() for r in caplog.records if "Shared" in r.getMessage()]
    assert len(said) == 1, said  # once, not on every lookup
    assert "aa_orig.yaml" in said[0] and "zz_copy.yaml" in said[0]
    assert "aa_orig.yaml (the first by file name)" in said[0]
    # By file name each is found, whatever its `name:`.
    assert Path(store.load("zz_copy").file).name == "zz_copy.yaml"


def test_loading_each_file_by_file_name_says_the_clash_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What `serve` does at start: the scheduler loads every file by its file name.
    _named(tmp_path, "aa_orig", "Shared")
    _named(tmp_path, "bb_other", "Other")
    _named(tmp_path, "zz_copy", "Shared")
    store = WorkflowStore(tmp_path)
    with caplog.at_level(logging.WARNING, logger="flowyard.workflows"):
        for stem in store.names():
            store.load(stem)
    [said] = [r.getMessage() for r in caplog.records]
    assert "workflow name 'Shared' is in 2 files" in said and "bb_other" not in said
    # A copy deleted since it was loaded is no clash any more: nothing is said of it.
    caplog.clear()
    fresh = WorkflowStore(tmp_path)
    fresh.load("zz_copy")
    (tmp_path / "zz_copy.yaml").unlink()
    with caplog.at_level(logging.WARNING, logger="flowyard.workflows"):
        fresh.load("aa_orig")
    assert caplog.records == []


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_flowyard_validate_reports_a_duplicate_name(tmp_path: Path) -> None:
    one, two = _named(tmp_path, "one", "Shared"), _named(tmp_path, "two", "Shared")
    other = _named(tmp_path, "other", "Other")
    proc = _cli(["validate", str(one), str(other), str(two)], tmp_path)
    assert proc.returncode == 1
    assert f"{one}: ok" in proc.stdout and f"{other}: ok" in proc.stdout
    assert f"{two}: field 'name': workflow name 'Shared' is already the name of {one}" in (
        proc.stderr
    )
    assert f"{two}: ok" not in proc.stdout


def test_flowyard_run_by_a_shared_name_says_which_file_runs(
    tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    _named(folder, "zz_copy", "Shared", "zz")
    _named(folder, "aa_orig", "Shared", "aa")
    proc = _cli(["run", "Shared", "--json"], tmp_path, DATABASE_URL=database_url)
    assert proc.returncode == 0, proc.stderr
    assert '"from": "aa"' in proc.stdout
    assert "workflow name 'Shared'" in proc.stderr
    assert "aa_orig.yaml (the first by file name)" in proc.stderr and "zz_copy.yaml" in proc.stderr
