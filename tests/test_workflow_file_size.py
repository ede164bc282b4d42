"""A workflow file over MAX_FILE_BYTES is refused before it is read, naming its size
and the limit: a 60 MB file in the workflows folder took minutes of the engine's
event loop to parse and validate — on every lookup that found it changed — and for
all that time no webhook of any workflow was accepted and /api/health said the
database was down. The other workflows of the folder are unaffected."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.model import MAX_FILE_BYTES, WorkflowError, load_file
from engine.workflows import WorkflowStore
from ui.workflow_files import summary

HOOK = """
version: 1
name: hook
blocks:
  webhook: {type: webhook, path: small/hook}
"""


def _too_big(folder: Path) -> Path:
    """A workflow file one byte over the limit: a webhook block and a long comment."""
    head = "version: 1\nname: big\nblocks:\n  webhook: {type: webhook, path: big/hook}\n"
    path = folder / "big.yaml"
    path.write_text(head + "#" * (MAX_FILE_BYTES - len(head)) + "\n")
    assert path.stat().st_size == MAX_FILE_BYTES + 1
    return path


def test_a_file_over_the_limit_is_refused_naming_its_size(tmp_path: Path) -> None:
    path = _too_big(tmp_path)
    with pytest.raises(WorkflowError) as caught:
        load_file(path)
    [problem] = caught.value.problems
    assert problem.file == str(path)
    assert f"{MAX_FILE_BYTES + 1:,} bytes" in problem.message
    assert f"over the {MAX_FILE_BYTES:,}" in problem.message


def test_the_rest_of_the_folder_answers(tmp_path: Path) -> None:
    _too_big(tmp_path)
    (tmp_path / "hook.yaml").write_text(HOOK)
    store = WorkflowStore(tmp_path)
    found = store.find_webhook("small/hook")
    assert found is not None and found[0].name == "hook"
    assert store.find_webhook("big/hook") is None
    assert summary(tmp_path / "big.yaml")["broken"] is True


def test_a_file_at_the_limit_is_read(tmp_path: Path) -> None:
    path = _too_big(tmp_path)
    path.write_text(path.read_text()[:-2] + "\n")  # one byte less
    assert load_file(path).name == "big"
