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
import shutil
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


@pytest.fixture
def earlier_release() -> dict[str, bytes]:
    """``templates/lib`` as the release that first shipped ``order_inputs.py`` had it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs this repository's git history")
    if _git("rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.skip("a shallow clone lacks the earlier releases")
    history = _git("log", "--reverse", "--format=%H", "--", "templates/lib/order_inputs.py")
    first = history.split()[0]
    names = _git("ls-tree", "--name-only", first, "templates/lib/").split()
    return {
        Path(n).name: subprocess.run(
            ["git", "show", f"{first}:{n}"], cwd=ROOT, capture_output=True, check=True
        ).stdout
        for n in names
        if n.endswith(".py")
    }


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
    if shutil.which("git") is None:
        pytest.skip("needs git")
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
