"""A newcomer's misspellings are named with the word they meant: `timout`, `tpye`,
`functoin`, `<strat.name>`, an edge to `gret`, `flowyard run helo`. Validation said
only "unknown key 'timout'" (or, for `tpye: manual`, just "missing required key
'type'"), leaving the user to hunt for the right word in the docs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types

ROOT = Path(__file__).resolve().parent.parent
BASE = "name: t\nblocks:\n  start: {type: manual}\n"


def test_a_misspelt_key_is_named_with_the_key_meant(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        BASE
        + "  f: {type: function, code: 'return 1', timout: 3}\n"
        + "  h: {type: http, url: 'http://x', header: {a: b}}\n"
        + "edges: [start -> f, f -> h]\n",
    )
    assert any(
        "block 'f': field 'timout': unknown key 'timout' for a function block; "
        "did you mean 'timeout'?" in p
        for p in found
    ), found
    assert any(
        "unknown key 'header' for an http block; did you mean 'headers'?" in p for p in found
    )


def test_a_top_level_key_and_a_word_far_from_any_key(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE + "ouput: <start>\n")
    assert found == [
        f"{tmp_path}/bad.yaml: field 'ouput': unknown key 'ouput'; did you mean 'output'?"
    ]
    found = problems(tmp_path, BASE + "  f: {type: function, code: 'return 1', colour: red}\n")
    assert found[0].endswith("unknown key 'colour' for a function block"), found


def test_a_key_already_there_is_not_suggested(tmp_path: Path) -> None:
    found = problems(
        tmp_path, BASE + "  f: {type: function, code: 'return 1', timeout: 3, timout: 3}\n"
    )
    assert found[0].endswith("unknown key 'timout' for a function block"), found


def test_a_misspelt_type_key_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE + "  f: {tpye: function, code: 'return 1'}\n")
    assert found == [
        f"{tmp_path}/bad.yaml: block 'f': field 'type': missing required key 'type'; "
        "is 'tpye' a misspelling of it?"
    ]


def test_a_misspelt_block_type_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE + "  f: {type: functoin, code: 'return 1'}\n")
    assert "unknown block type 'functoin'; did you mean 'function'? (known: agent," in found[0]


def test_a_misspelt_block_id_in_a_reference_an_edge_and_the_output(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        BASE
        + "  greet: {type: function, code: 'return <strat.name>'}\n"
        + "edges: [start -> greet, gret -> greet]\noutput: <gret.x>\n",
    )
    assert any(
        "block 'greet': field 'code': reference <strat.name> names unknown block 'strat'; "
        "did you mean 'start'?" in p
        for p in found
    ), found
    assert any(
        "edge gret -> greet names missing block 'gret'; did you mean 'greet'?" in p for p in found
    )
    assert any(
        "field 'output': reference <gret.x> names unknown block 'gret'; did you mean 'greet'?" in p
        for p in found
    ), found


def test_a_block_not_upstream_says_which_edge_is_missing(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        BASE
        + "  a: {type: function, code: 'return 1'}\n"
        + "  b: {type: http, url: 'http://h/<a.result>/<b.status>'}\n"
        + "edges: [start -> a, start -> b]\n",
    )
    assert sorted(found) == sorted(
        [
            f"{tmp_path}/bad.yaml: block 'b': field 'url': reference <a.result>: block 'a' is "
            "not upstream of this block: add an edge that leads from it here (a -> b, or "
            "through the blocks between them)",
            f"{tmp_path}/bad.yaml: block 'b': field 'url': reference <b.status>: block 'b' is "
            "this block itself: a block reads the outputs of blocks before it, not its own",
        ]
    )


def _run(tmp_path: Path, database_url: str, name: str) -> subprocess.CompletedProcess[str]:
    """`flowyard run NAME` in ``tmp_path``, on the tests' database (without one it
    would start an embedded PostgreSQL in the folder, left running)."""
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", "run", name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "DATABASE_URL": database_url},
        timeout=60,
    )


def test_run_of_a_misspelt_workflow_name(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "hello.yaml").write_text(BASE)
    done = _run(tmp_path, database_url, "helo")
    assert "no workflow named 'helo' in workflows; did you mean 'hello'?" in done.stderr


def test_a_block_id_written_as_a_name_is_given_its_id(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "name: t\nblocks:\n  Start: {type: manual}\n  send-email: {type: function, code: 'return 1'}\n"
        "  sendSlack: {type: function, code: 'return 1'}\n  2nd: {type: function, code: 'return 1'}\n",
    )
    rule = "must be lower-case letters, digits and '_', starting with a letter"
    assert sorted(p.split("field 'blocks': ", 1)[1] for p in found) == [
        f"block id '2nd' {rule}",
        f"block id 'Start' {rule}; did you mean 'start'?",
        f"block id 'send-email' {rule}; did you mean 'send_email'?",
        f"block id 'sendSlack' {rule}; did you mean 'send_slack'?",
    ]


def test_an_edge_drawn_with_another_arrow_is_given_the_one_meant(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        BASE
        + "  f: {type: function, code: 'return 1'}\n"
        + "edges: ['start => f', 'start > f', 'start --> f', 'start→f', 'start f']\n",
    )
    rule = "is not of the form 'a -> b' or 'a.port -> b'"
    meant = "; did you mean 'start -> f'?"
    assert [p.split(": edge ", 1)[1] for p in found] == [
        f"'start => f' {rule}{meant}",
        f"'start > f' {rule}{meant}",
        f"'start --> f' {rule}{meant}",
        f"'start→f' {rule}{meant}",
        f"'start f' {rule}",
    ]


def test_run_of_a_name_whose_file_is_in_the_current_folder(
    tmp_path: Path, database_url: str
) -> None:
    """A newcomer's hello.yaml beside them, not in workflows/: `flowyard run hello`
    said only "no workflow named 'hello' in workflows"."""
    (tmp_path / "hello.yaml").write_text(BASE)
    done = _run(tmp_path, database_url, "hello")
    assert done.stderr == (
        "workflows/hello.yaml: no workflow named 'hello' in workflows; hello.yaml here is "
        "not in that folder: run it by its path (flowyard run hello.yaml)\n"
    )
