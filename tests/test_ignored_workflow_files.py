"""A file of the workflows folder whose name is no workflow name (`Orders backup.yaml`)
is ignored, as `GET /api/workflows` says: not loaded by name, by `name:`, for a
webhook or a schedule, and said once in the log (engine/workflow_folder.py)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import blocks  # noqa: F401 - registers the block types
from engine.model import WorkflowError
from engine.workflows import WorkflowStore

ROOT = Path(__file__).resolve().parent.parent


def _workflow(folder: Path, stem: str, name: str, path: str) -> Path:
    file = folder / f"{stem}.yaml"
    file.write_text(
        textwrap.dedent(f"""\
        name: {name}
        blocks:
          hook: {{type: webhook, path: {path}}}
          work:
            type: function
            code: |
              return {{"from": "{name}"}}
        edges: [hook -> work]
        """)
    )
    return file


def test_the_store_loads_no_ignored_file_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _workflow(tmp_path, "Orders backup", "Backup", "orders/events")
    _workflow(tmp_path, "orders", "Orders", "orders/events")
    store = WorkflowStore(tmp_path)
    with caplog.at_level(logging.WARNING, logger="flowyard.workflows"):
        assert store.names() == ["orders"]
        assert store.find_webhook("orders/events")[0].name == "Orders"
        for lookup in ("Orders backup", "Backup"):  # by file name, by `name:`
            with pytest.raises(WorkflowError, match=f"no workflow named '{lookup}'"):
                store.load(lookup)
        store.names()
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        f"Orders backup.yaml in {tmp_path} is ignored: its file name is not a workflow name "
        "(letters, digits, '_' and '-', starting with a letter or digit, at most 100 "
        "characters); rename it to load it"
    ]


def test_flowyard_run_does_not_run_an_ignored_file_by_its_name(
    tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    _workflow(folder, "Orders backup", "Backup", "orders/events")
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "run", "Backup", "--json"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout
    assert "no workflow named 'Backup'" in proc.stderr
    assert "Orders backup.yaml in workflows is ignored: its file name is not" in proc.stderr


def test_of_two_files_with_one_stem_the_store_names_one_and_says_which_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _workflow(tmp_path, "twin", "Twin", "twins/in")
    (tmp_path / "twin.json").write_text(
        '{"version": 1, "name": "Json twin", "blocks": {"start": {"type": "manual"}}}'
    )
    store = WorkflowStore(tmp_path)
    with caplog.at_level(logging.WARNING, logger="flowyard.workflows"):
        assert store.names() == ["twin"]
        assert store.load("twin").name == "Twin"
        with pytest.raises(WorkflowError, match="no workflow named 'Json twin'"):
            store.load("Json twin")
        store.names()
    assert [r.getMessage() for r in caplog.records] == [
        f"twin.json in {tmp_path} is ignored: twin.yaml is the workflow 'twin', read before"
        " a .json file of that name; rename or delete one of them"
    ]
