"""A workspace's lib file that is a version flowyard shipped is flowyard's, unedited.

Verification report: in a workspace made by the previous release (no
``.flowyard-lib.json``), ``flowyard new order_processing_agent`` kept the old
``lib/order_inputs.py`` as "your edited" file, though nobody had touched it, and
the new copy then failed every event (``MissingReference … <enrich.email_configured>``):
the old lib lacked what the new workflow reads.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from templates import LIB, LIB_MANIFEST, copy_template
from templates.lib_shipped import SHIPPED, build

ROOT = Path(__file__).resolve().parents[2]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_current_lib_file_is_listed_as_shipped() -> None:
    listed = json.loads(SHIPPED.read_text(encoding="utf-8"))
    for f in sorted(LIB.glob("*.py")):
        assert _sha256(f.read_bytes()) in listed.get(f.name, []), (
            f"templates/lib/{f.name} as it is now is missing from {SHIPPED.name}: a workspace"
            " holding it would be taken for the user's edit after the next release. Rebuild"
            " the list from git and commit it with the change: python -m templates.lib_shipped"
        )
    for name, sums in listed.items():
        assert sums == sorted(set(sums)), f"{name}: the list is sorted, each sum once"


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


#: ``templates/lib`` as the release that first shipped ``order_inputs.py`` had it
#: (``git show <that commit>:templates/lib/<file>``), kept here so that the test needs
#: no git history: a clone may be shallow.
EARLIER_RELEASE = Path(__file__).resolve().parent / "earlier_release"


@pytest.fixture
def earlier_release() -> dict[str, bytes]:
    files = {p.name.removesuffix(".txt"): p.read_bytes() for p in EARLIER_RELEASE.glob("*.py.txt")}
    listed = json.loads(SHIPPED.read_text(encoding="utf-8"))
    assert sorted(files) == ["order_events.py", "order_inputs.py"]
    for name, text in files.items():  # a release's files, as the list knows them
        assert _sha256(text) in listed[name], name
    return files


def test_a_workspace_of_an_earlier_release_without_the_manifest_is_brought_up_to_date(
    tmp_path: Path, earlier_release: dict[str, bytes]
) -> None:
    folder = tmp_path / "workflows"
    lib = folder / "lib"
    lib.mkdir(parents=True)
    for name, text in earlier_release.items():
        (lib / name).write_bytes(text)
    assert (lib / "order_inputs.py").read_bytes() != (LIB / "order_inputs.py").read_bytes()

    made = copy_template("order_processing_agent", folder)

    assert not [c for c in made.changes if c.field.startswith("lib/")]
    recorded = json.loads((lib / LIB_MANIFEST).read_text())
    for f in sorted(LIB.glob("*.py")):
        assert (lib / f.name).read_bytes() == f.read_bytes(), f.name
        assert recorded[f.name] == _sha256(f.read_bytes())


def test_the_list_is_rebuilt_from_every_commit_and_the_working_tree(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    lib = repo / "templates" / "lib"
    lib.mkdir(parents=True)
    _git("init", "-q", cwd=repo)
    versions = [b"A = 1\n", b"A = 2\n"]
    for text in versions:
        (lib / "order_events.py").write_bytes(text)
        _git("add", "-A", cwd=repo)
        _git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "v", cwd=repo)
    (lib / "order_events.py").write_bytes(b"A = 3\n")  # about to be committed
    (lib / "notes.txt").write_text("not Python: not copied to workspaces")

    assert build(repo) == {
        "order_events.py": sorted(_sha256(t) for t in [*versions, b"A = 3\n"]),
    }
