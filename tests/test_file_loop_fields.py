"""`<loop.…>` has two fields, `index` and `iteration`: a typo there passed validation
and failed every run with MissingReference, where `<workflow.bogus>` is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file

ROOT = Path(__file__).resolve().parent.parent
HEAD = "name: t\nblocks:\n  start: {type: manual}\n"
FIELDS = "<loop.index> (from 0) and <loop.iteration> (from 1) are the fields of <loop>"


def test_an_unknown_loop_field_in_a_loop_body_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + "  each: {type: loop, count: 2, body: [f]}\n"
        "  f: {type: function, code: \"return {'x': <loop.bogus>}\"}\n"
        "edges: [start -> each]\n",
    )
    assert found == [f"{tmp_path / 'bad.yaml'}: block 'f': field 'code': <loop.bogus>: {FIELDS}"]


def test_an_unknown_loop_field_in_a_parallel_body_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + "  fan: {type: parallel, items: [1, 2], body: [call]}\n"
        "  call: {type: http, url: 'http://127.0.0.1:9/n/<loop.iterations>'}\n"
        "edges: [start -> fan]\n",
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'call': field 'url': <loop.iterations>: {FIELDS}"
    ]


def test_a_loops_own_while_and_accumulate_next_are_checked(tmp_path: Path) -> None:
    """Both are read with the iteration's names; an optional `?` does not excuse a
    field that is never there."""
    found = problems(
        tmp_path,
        HEAD + "  w: {type: loop, while: '<loop.idx> < 3', body: [n],"
        " accumulate: {initial: 0, next: '<loop.indx?>'}}\n"
        "  n: {type: function, code: 'return 1'}\n"
        "edges: [start -> w]\n",
    )
    file = tmp_path / "bad.yaml"
    assert sorted(found) == [
        f"{file}: block 'w': field 'accumulate': <loop.indx?>: {FIELDS}",
        f"{file}: block 'w': field 'while': <loop.idx>: {FIELDS}",
    ]


def test_a_field_of_the_index_is_refused(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + "  each: {type: loop, count: 2, body: [f]}\n"
        "  f: {type: function, code: 'return <loop.index.value>'}\n"
        "edges: [start -> each]\n",
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'f': field 'code': <loop.index.value>: "
        "<loop.index> is a number, with no field 'value'"
    ]


def test_the_loop_fields_and_a_block_named_loop_are_fine(tmp_path: Path) -> None:
    """Outside a body, `<loop.…>` reads a block named `loop`, with its own outputs."""
    path = tmp_path / "ok.yaml"
    path.write_text(
        HEAD + "  loop: {type: loop, count: 2, body: [f],"
        " accumulate: {initial: 0, next: <loop.iteration>}}\n"
        "  f: {type: function, code: 'return [<loop.index>, <loop.iteration>, <loop>]'}\n"
        "  after: {type: function, code: 'return <loop.iterations>'}\n"
        "edges: [start -> loop, loop -> after]\n"
    )
    assert {"loop", "f", "after"} <= set(load_file(path).blocks)


async def test_the_loop_fields_are_what_a_run_gives(run_yaml) -> None:
    wf = """
    name: loop_fields
    blocks:
      start: {type: manual}
      each: {type: loop, items: [a, b], body: [f]}
      f: {type: function, code: "return [<loop.index>, <loop.iteration>, <loop>]"}
      fan: {type: parallel, items: [c], body: [g]}
      g: {type: function, code: "return [<loop.index>, <loop.iteration>, <loop>]"}
    edges: [start -> each, start -> fan]
    output: {loop: <each.results>, parallel: <fan.results>}
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {
        "loop": [
            {"result": [0, 1, {"index": 0, "iteration": 1}]},
            {"result": [1, 2, {"index": 1, "iteration": 2}]},
        ],
        "parallel": [{"result": [0, 1, {"index": 0, "iteration": 1}]}],
    }


def test_flowyard_validate_names_file_block_and_field(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(
        HEAD + "  each: {type: loop, count: 2, body: [f]}\n"
        "  f: {type: function, code: \"return {'x': <loop.bogus>}\"}\n"
        "edges: [start -> each]\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "validate", "w.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 1
    assert f"w.yaml: block 'f': field 'code': <loop.bogus>: {FIELDS}" in done.stderr
