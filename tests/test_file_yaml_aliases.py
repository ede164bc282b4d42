"""YAML aliases may reuse a value, not multiply the file ("billion laughs").

Six lines of nine aliases each made a 434-byte file hold 4.8 million values: 15 s of
server CPU to validate it, and problem messages quoting the whole expanded value (a
7.7 MB 422 body and `flowyard validate` output from a 392-byte file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from workflow_problems import problems
from yaml_bombs import BOMB_IN_DEFS, BOMB_IN_SCHEMA, UNDER_THE_BOUND, nine_times

import blocks  # noqa: F401 - registers the block types
from engine._yaml_aliases import MAX_ALIASED
from engine.model import load_file

ROOT = Path(__file__).resolve().parent.parent
#: 30 kB of text in a hundred places: few values, many characters.
TEXT_BOMB = (
    f"name: t\ntext: &t '{'x' * 30_000}'\nten: &ten [{','.join(['*t'] * 10)}]\n"
    f"blocks:\n  s: {{type: manual, description: [{','.join(['*ten'] * 10)}]}}\n"
)
#: A key made of aliases of a large value (refused as no text, quoting the key).
KEY_BOMB = (
    f"name: t\ndefs:\n{nine_times(4)}"
    "blocks:\n  s: {type: manual}\n  ? [*a4, *a4, *a4]\n  : {type: manual}\n"
)


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (BOMB_IN_DEFS, "field 'defs.a5.2'"),
        (BOMB_IN_SCHEMA, "block 's': field 'input_schema.x-a5.2'"),
        (TEXT_BOMB, "block 's': field 'description.2'"),
        (KEY_BOMB, "field 'blocks'"),
    ],
    ids=["values", "values-in-a-schema", "text", "a-key"],
)
def test_flowyard_validate_refuses_a_file_aliases_multiply(
    tmp_path: Path, text: str, where: str
) -> None:
    (tmp_path / "bomb.yaml").write_text(text)
    done = cli(["validate", "bomb.yaml"], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr[:2000]
    [said] = done.stderr.splitlines()  # was 7.7 MB of problems quoting the expansion
    assert said.startswith(f"bomb.yaml: {where}: aliases repeat too much: "), said
    assert f"more than {MAX_ALIASED:,} values and characters of text" in said, said


def test_the_refusal_names_the_anchor_the_alias_repeats(tmp_path: Path) -> None:
    [said] = problems(tmp_path, BOMB_IN_DEFS)
    assert "with this one (of the anchor on line 8)" in said, said  # a4, used nine times in a5


def test_a_message_quoting_a_large_value_is_cut_keeping_what_is_wrong(tmp_path: Path) -> None:
    """Four levels stay under the bound (59,049 values), and the schema check still
    quoted the whole list: 430 kB in each of two messages."""
    found = problems(tmp_path, UNDER_THE_BOUND)
    quoting = [p for p in found if "['lol'," in p]
    assert quoting and all(len(p) < 1200 for p in found), [len(p) for p in found]
    assert any(p.endswith("]]]]] is not of type 'object'") for p in quoting), quoting
    assert all("characters left out) …" in p for p in quoting), quoting


def test_a_workflow_reusing_values_through_anchors_loads(tmp_path: Path) -> None:
    path = tmp_path / "reuse.yaml"
    path.write_text(
        "name: reuse\n"
        "blocks:\n"
        "  start: {type: manual}\n"
        "  a: &call\n"
        "    type: http\n"
        "    url: https://example.com/hook\n"
        "    headers: &headers {Accept: application/json, X-Team: ops}\n"
        "    retries: 2\n"
        "  b: *call\n"
        "  c: {type: http, url: https://example.com/other, headers: *headers}\n"
        "edges: [start -> a, a -> b, b -> c]\n"
    )
    wf = load_file(path)
    assert wf.blocks["b"].config == wf.blocks["a"].config
    assert wf.blocks["c"].config["headers"] == {"Accept": "application/json", "X-Team": "ops"}


def test_many_reuses_of_a_large_value_still_load(tmp_path: Path) -> None:
    """Far under the bound, far over what a file reuses: a 40-key mapping in 200 blocks."""
    headers = ", ".join(f"X-Header-{n}: value number {n}" for n in range(40))
    users = "".join(
        f"  call{n}: {{type: http, url: 'https://example.com/{n}', headers: *h}}\n"
        for n in range(200)
    )
    path = tmp_path / "many.yaml"
    path.write_text(
        f"name: many\nblocks:\n  start: {{type: manual}}\n"
        f"  first: {{type: http, url: 'https://example.com', headers: &h {{{headers}}}}}\n"
        f"{users}edges: [start -> first]\n"
    )
    wf = load_file(path)
    assert wf.blocks["call199"].config["headers"]["X-Header-39"] == "value number 39"
