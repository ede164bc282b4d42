"""Copying a template never overwrites a `workflows/lib/` file the user edited
(docs/templates.md). Black-box report: `flowyard new order_processing_agent agent2`
replaced an edited `lib/order_events.py` (a handler for a new event type, as the
Order Processing README invites) with the shipped one, silently changing the live
reducer."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from templates import LIB, LIB_MANIFEST, copy_template, instantiate

ROOT = Path(__file__).resolve().parents[2]
EARLIER_RELEASE = Path(__file__).resolve().parent / "earlier_release"
KEPT_REDUCER = (
    "kept your edited lib/order_events.py: it is no version flowyard shipped, so the copy"
    " runs with yours, and may fail until you merge the template's changes into it"
    f" (compare it with {LIB / 'order_events.py'})"
)
EDIT = "\n\ndef on_gift_wrapped(state, data):  # the user's own handler\n    return state\n"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _shipped(name: str) -> bytes:
    return (LIB / name).read_bytes()


def test_an_edited_lib_file_is_kept_and_reported(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    instantiate("order_processing", folder)
    reducer = folder / "lib" / "order_events.py"
    edited = reducer.read_bytes() + EDIT.encode()
    reducer.write_bytes(edited)
    (folder / "lib" / "order_inputs.py").unlink()  # a missing file is copied

    made = copy_template("order_processing_agent", folder, "agent2")

    assert reducer.read_bytes() == edited
    assert (folder / "lib" / "order_inputs.py").read_bytes() == _shipped("order_inputs.py")
    kept = [c for c in made.changes if c.field.startswith("lib/")]
    assert [c.to_dict() for c in kept] == [
        {
            "block": None,
            "field": "lib/order_events.py",
            "was": f"sha256:{_sha256(_shipped('order_events.py'))}",
            "now": f"sha256:{_sha256(edited)}",
            "message": KEPT_REDUCER,
        }
    ]
    assert kept[0].said() == kept[0].message
    # The manifest still holds what flowyard wrote: a later revert is recognised.
    manifest = json.loads((folder / "lib" / LIB_MANIFEST).read_text())
    assert manifest["order_events.py"] == _sha256(_shipped("order_events.py"))


def test_an_unedited_file_of_an_older_release_is_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    instantiate("replay_events", folder)
    lib = folder / "lib"
    older = b"# the reducer as an older release shipped it\n"
    (lib / "order_events.py").write_bytes(older)
    manifest = json.loads((lib / LIB_MANIFEST).read_text())
    (lib / LIB_MANIFEST).write_text(json.dumps({**manifest, "order_events.py": _sha256(older)}))

    made = copy_template("order_processing", folder)

    assert (lib / "order_events.py").read_bytes() == _shipped("order_events.py")
    assert not [c for c in made.changes if c.field.startswith("lib/")]
    recorded = json.loads((lib / LIB_MANIFEST).read_text())
    assert recorded["order_events.py"] == _sha256(_shipped("order_events.py"))


def test_a_workspace_of_a_release_without_the_manifest(tmp_path: Path) -> None:
    """A file equal to the shipped one is taken as flowyard's; one that is no shipped
    version is kept (test_lib_shipped.py: an earlier release's file is replaced)."""
    folder = tmp_path / "workflows"
    lib = folder / "lib"
    lib.mkdir(parents=True)
    (lib / "order_intake.py").write_bytes(_shipped("order_intake.py"))
    differing = _shipped("order_events.py") + EDIT.encode()
    (lib / "order_events.py").write_bytes(differing)
    (lib / "my_helpers.py").write_text("X = 1\n")  # the user's own module: never touched

    made = copy_template("replay_events", folder)

    assert (lib / "order_events.py").read_bytes() == differing
    assert [c.field for c in made.changes] == ["lib/order_events.py"]
    assert (lib / "my_helpers.py").read_text() == "X = 1\n"
    recorded = json.loads((lib / LIB_MANIFEST).read_text())
    assert "order_events.py" not in recorded  # never written by flowyard here
    assert recorded["order_intake.py"] == _sha256(_shipped("order_intake.py"))
    # Once the user reverts to the shipped file, later copies keep it up to date.
    (lib / "order_events.py").write_bytes(_shipped("order_events.py"))
    again = copy_template("replay_events", folder, "replay2")
    assert not [c for c in again.changes if c.field.startswith("lib/")]
    assert "order_events.py" in json.loads((lib / LIB_MANIFEST).read_text())


def test_flowyard_new_says_it_kept_an_edited_lib_file(tmp_path: Path, database_url: str) -> None:
    folder = tmp_path / "workflows"
    instantiate("order_processing", folder)
    reducer = folder / "lib" / "order_events.py"
    edited = reducer.read_bytes() + EDIT.encode()
    reducer.write_bytes(edited)
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "new", "order_processing_agent", "agent2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert reducer.read_bytes() == edited
    assert f"  {KEPT_REDUCER}\n" in done.stdout


#: ``order_events.py`` of two earlier releases, as they shipped: the one that first
#: shipped ``order_inputs.py`` (no ``kept_snapshot_fixes`` yet), and 63674be's (one
#: without its ``reached_head``).
EARLIER_REDUCERS = {
    "ImportError: cannot import name 'kept_snapshot_fixes' from 'order_events'": (
        EARLIER_RELEASE / "order_events.py.txt"
    ),
    "TypeError: kept_snapshot_fixes() got an unexpected keyword argument 'reached_head'": (
        EARLIER_RELEASE / "lib.63674be" / "order_events.py.txt"
    ),
}


@pytest.mark.parametrize("error", sorted(EARLIER_REDUCERS))
def test_a_kept_file_of_an_earlier_release_fails_a_new_copy_as_the_docs_say(
    tmp_path: Path, error: str
) -> None:
    """Report: docs/templates.md said such a copy fails every event with
    `MissingReference`; a new Replay Events copy with an `order_events.py` edited from
    63674be failed at `compare` with a TypeError instead (the new step passes
    `reached_head`, which that release's function does not take)."""
    folder = tmp_path / "workflows"
    (folder / "lib").mkdir(parents=True)
    reducer = folder / "lib" / "order_events.py"
    reducer.write_bytes(EARLIER_REDUCERS[error].read_bytes() + EDIT.encode())  # the user's edit

    made = copy_template("replay_events", folder)

    assert [c.field for c in made.changes if c.field.startswith("lib/")] == ["lib/order_events.py"]
    compare = yaml.safe_load((folder / "replay_events.yaml").read_text())["blocks"]["compare"]
    assert "kept_snapshot_fixes(rows, kept, reached_head=checked)" in compare["code"]
    # The call as the copy's `compare` makes it, with its lib/ on the path (as the
    # engine puts it), on the kept file.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from order_events import kept_snapshot_fixes\n"
            "kept_snapshot_fixes([], [], reached_head=True)",
        ],
        cwd=folder / "lib",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and error in done.stderr, done.stderr
    docs = " ".join((ROOT / "docs" / "templates.md").read_text(encoding="utf-8").split())
    assert "every event then fails with `MissingReference`" not in docs
    said = error.split(": ", 1)[0]  # ImportError / TypeError: both named there
    assert f"`{said}`" in docs
    assert "`kept_snapshot_fixes() got an unexpected keyword argument 'reached_head'`" in docs
