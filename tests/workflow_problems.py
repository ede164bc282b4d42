"""What validation says of a workflow file, for tests of bad workflows."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.model import WorkflowError, load_file


def problems(tmp_path: Path, text: str, name: str = "bad.yaml") -> list[str]:
    """Every problem loading ``text`` as file ``name`` reports; each names the file."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(WorkflowError) as info:
        load_file(path)
    out = [str(p) for p in info.value.problems]
    assert all(s.startswith(str(path)) for s in out), out
    return out
