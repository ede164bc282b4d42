"""`flowyard new` into a workflows folder it cannot fully write (a read-only `lib/`,
a full disk, something in the way) copies nothing, and says so in one line.

The workflow file was written first and the shared `lib/` after it: when `lib/`
could not be written, the command ended in a traceback and left the workflow file
behind without the Python it imports. Its runs then failed at their first block
(`No module named 'order_intake'`), and running `flowyard new` again, once the
folder was fixed, was refused: `workflows/order_processing.yaml already exists`.
A `lib` that is a file, not a folder, was said as that same "already exists".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _new(workspace: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", "new", "order_processing", "shop_orders"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("obstacle", ["lib_file_a_folder", "lib_a_file"])
def test_a_copy_that_cannot_be_written_leaves_nothing_and_can_be_made_again(
    tmp_path: Path, database_url: str, obstacle: str
) -> None:
    workflows = tmp_path / "workflows"
    lib = workflows / "lib"
    if obstacle == "lib_file_a_folder":
        in_the_way = lib / "order_intake.py"
        (in_the_way / "x").mkdir(parents=True)
    else:
        workflows.mkdir()
        in_the_way = lib
        lib.write_text("not a folder\n")
    before = sorted(p.relative_to(workflows) for p in workflows.rglob("*"))

    done = _new(tmp_path, database_url)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("flowyard new: cannot write ")
    assert str(in_the_way.relative_to(tmp_path)) in lines[0]
    assert lines[0].endswith("; nothing was copied")
    assert sorted(p.relative_to(workflows) for p in workflows.rglob("*")) == before

    (shutil.rmtree if in_the_way.is_dir() else Path.unlink)(in_the_way)
    again = _new(tmp_path, database_url)
    assert again.returncode == 0, again.stderr
    assert (workflows / "shop_orders.yaml").is_file()
    assert (workflows / "lib" / "order_intake.py").is_file()
