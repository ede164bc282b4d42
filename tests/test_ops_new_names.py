"""`flowyard new TEMPLATE NAME` copies only under a name the API and pages can
address (docs/ui-security.md: letters, digits, `_` and `-`, at most 100): any other
is one line on stderr and exit 1 with nothing copied, an empty name included (it
was taken for "no name")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _new(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", "new", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("name", ["x" + "a" * 100, "a.b", "_x", "ünï", "a b", "x\n"])
def test_a_name_the_ui_cannot_address_is_refused(
    name: str, tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "workflows").mkdir()
    done = _new(["replay_events", name], tmp_path, database_url)
    assert done.returncode == 1, done.stdout
    assert done.stderr == (
        f"flowyard new: invalid workflow name {name!r}: letters, digits, '_' and '-',"
        " starting with a letter or digit, at most 100 characters\n"
    )
    assert list((tmp_path / "workflows").iterdir()) == []


def test_an_empty_name_is_refused_not_taken_for_no_name(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "workflows").mkdir()
    done = _new(["replay_events", ""], tmp_path, database_url)
    assert done.returncode == 1, done.stdout
    assert done.stderr == "flowyard new: a workflow name cannot be empty\n"
    assert list((tmp_path / "workflows").iterdir()) == []


def test_a_name_of_100_characters_is_copied_and_addressable(
    tmp_path: Path, database_url: str
) -> None:
    from ui.workflow_files import valid_name

    name = "r" + "e" * 99
    done = _new(["replay_events", name], tmp_path, database_url)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "workflows" / f"{name}.yaml").is_file() and valid_name(name)
