"""`flowyard validate` and `flowyard run` about the files they are given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOOK = "name: a\nblocks:\n  hook: {type: webhook, path: a/one}\n"


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


def test_a_file_given_twice_does_not_clash_with_itself(tmp_path: Path) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "a.yaml").write_text(HOOK)
    done = cli(["validate", "workflows/a.yaml", "./workflows/a.yaml", "workflows/../workflows/a.yaml"], tmp_path)  # fmt: skip
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout == "workflows/a.yaml: ok\n"


def test_two_files_still_clash(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(HOOK)
    (tmp_path / "b.yaml").write_text(HOOK)
    done = cli(["validate", "a.yaml", "b.yaml"], tmp_path)
    assert done.returncode == 1
    assert "b.yaml: field 'name': workflow name 'a' is already the name of a.yaml" in done.stderr


def test_run_of_a_missing_path_says_no_such_file(tmp_path: Path) -> None:
    # It appended .yaml and looked for a workflow *named* '/tmp/x/missing.yaml'.
    for spec in (str(tmp_path / "x" / "missing.yaml"), "missing.yaml", "sub/missing"):
        done = cli(["run", spec], tmp_path)
        assert (done.returncode, done.stderr) == (1, f"{spec}: no such file\n"), done.stderr


CYCLE = """\
name: cyc
blocks:
  a:
    type: function
    code: |
      return {"x": <b.status>, "y": <nosuch.z>}
  b: {type: function, code: 'return {"status": 1}'}
edges: [a -> b, b -> a]
output: <ghost.y>
"""


def test_a_cycle_does_not_hide_the_other_reference_problems(tmp_path: Path) -> None:
    """validate lists every problem: with a cycle it said only the cycle, and the
    unknown blocks came up one fix later. Whether `b` is upstream of `a` is what the
    cycle leaves open: that is said once it is gone."""
    (tmp_path / "cyc.yaml").write_text(CYCLE)
    done = cli(["validate", "cyc.yaml"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "cyc.yaml: block 'a': field 'edges': edges form a cycle: a -> b -> a",
        "cyc.yaml: block 'a': field 'code': reference <nosuch.z> names unknown block 'nosuch'",
        "cyc.yaml: field 'output': reference <ghost.y> names unknown block 'ghost'",
    ], done.stderr

    (tmp_path / "cyc.yaml").write_text(CYCLE.replace(", b -> a]", "]"))
    done = cli(["validate", "cyc.yaml"], tmp_path)
    assert done.stderr.splitlines() == [
        "cyc.yaml: block 'a': field 'code': reference <b.status>: block 'b' is not upstream"
        " of this block: it runs after it",
        "cyc.yaml: block 'a': field 'code': reference <nosuch.z> names unknown block 'nosuch'",
        "cyc.yaml: field 'output': reference <ghost.y> names unknown block 'ghost'",
    ], done.stderr


def test_a_cycle_does_not_hide_a_block_that_is_upstream_in_no_order(tmp_path: Path) -> None:
    """With a cycle a -> b -> a, `e` reading `<d.result>` (d not upstream of e) was
    said only once b -> a was removed. The edges of the cycle only add upstream
    blocks, and removing one never makes d upstream of e, nor of g after the cycle:
    both are said with the cycle. Whether b is upstream of a is still left to its fix."""
    (tmp_path / "cyc.yaml").write_text(
        CYCLE.replace("output: <ghost.y>\n", "")
        .replace(", b -> a]", ", b -> a, e -> f, b -> g]")
        .replace(
            "  b: {",
            "  d: {type: function, code: 'return {\"result\": 1}'}\n"
            "  e: {type: function, code: 'return {\"r\": <d.result>}'}\n"
            "  f: {type: function, code: 'return {}'}\n"
            "  g: {type: function, code: 'return {\"r\": <d.result>}'}\n"
            "  b: {",
        )
    )
    done = cli(["validate", "cyc.yaml"], tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "cyc.yaml: block 'a': field 'edges': edges form a cycle: a -> b -> a",
        "cyc.yaml: block 'a': field 'code': reference <nosuch.z> names unknown block 'nosuch'",
        "cyc.yaml: block 'e': field 'code': reference <d.result>: block 'd' is not upstream"
        " of this block: add an edge that leads from it here (d -> e, or through the blocks"
        " between them)",
        "cyc.yaml: block 'g': field 'code': reference <d.result>: block 'd' is not upstream"
        " of this block: add an edge that leads from it here (d -> g, or through the blocks"
        " between them)",
    ], done.stderr


def test_a_folder_is_validated_as_its_workflow_files(tmp_path: Path) -> None:
    """`flowyard validate workflows` said "workflows: cannot read: Is a directory"."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "b.yaml").write_text(HOOK.replace("name: a", "name: b").replace("a/one", "b/one"))
    (folder / "a.yaml").write_text(HOOK)
    (folder / "Bad Name.yaml").write_text(HOOK)
    (folder / "notes.txt").write_text("not a workflow")
    done = cli(["validate", "workflows"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "workflows/a.yaml: ok\nworkflows/b.yaml: ok\n"
    assert done.stderr.startswith("workflows/Bad Name.yaml: not loaded: its file name is not")

    (tmp_path / "empty").mkdir()
    done = cli(["validate", "empty"], tmp_path)
    assert done.returncode == 1
    assert done.stderr == "empty: no workflow files (.yaml, .yml, .json) in this folder\n"
