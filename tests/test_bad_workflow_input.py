"""Bad workflow files and bad CLI input: a clear error naming file, block and field,
never a traceback, a pile of unrelated messages, or a silently changed workflow."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import WorkflowError, load_file

ROOT = Path(__file__).resolve().parent.parent

BASE = "name: t\nblocks:\n  start: {type: manual}\n  work: {type: function, code: 'return 1'}\n"


def test_block_ids_yaml_would_read_as_bools_stay_text(tmp_path: Path) -> None:
    # YAML 1.1 reads `on:` as True: the block then "went missing" from its own edge.
    path = tmp_path / "on.yaml"
    path.write_text(
        "name: t\nblocks:\n  start: {type: manual}\n  on: {type: function, code: 'return 1'}\n"
        "edges: [start -> on]\n"
    )
    assert list(load_file(path).blocks) == ["start", "on"]


def test_a_numeric_block_id_is_named_as_a_bad_id(tmp_path: Path) -> None:
    # `1:` was an int key, which the id pattern did not check: it loaded silently.
    found = problems(tmp_path, "name: t\nblocks:\n  1: {type: manual}\n")
    assert len(found) == 1 and "block '1'" in found[0] and "block id '1' must" in found[0], found


def test_a_block_without_type_is_one_problem(tmp_path: Path) -> None:
    # It was eleven: every block type's required and unknown keys, one after another.
    found = problems(tmp_path, BASE + "  x: {code: 'return 1'}\n")
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'x': field 'type': missing required key 'type'"
    ]


def test_edges_as_one_string_is_one_problem(tmp_path: Path) -> None:
    # It was walked character by character: "edge '-' is not of the form …" and so on.
    found = problems(tmp_path, BASE + "edges: 'start -> work'\n")
    assert len(found) == 1 and "field 'edges'" in found[0] and "`edges` is a list" in found[0]


def test_a_yaml_syntax_error_says_where_in_words(tmp_path: Path) -> None:
    # PyYAML's own text said `in "<unicode string>", line 1, column 4` twice.
    found = problems(tmp_path, "name: t\nblocks: [1,\nedges: []\n")
    assert found == [
        f"{tmp_path / 'bad.yaml'}: cannot parse: line 4, column 1: expected ',' or ']', "
        "but got '<stream end>' (while parsing a flow sequence at line 2, column 9)"
    ]


def test_an_edge_listed_twice_is_a_problem(tmp_path: Path) -> None:
    # It was kept once in silence: the editor's next save then dropped a line of the file.
    found = problems(tmp_path, BASE + "edges: [start -> work, start -> work]\n")
    assert found == [
        f"{tmp_path / 'bad.yaml'}: field 'edges.1': edge start -> work is listed twice"
    ]


def test_an_edge_without_arrow_is_said_once_in_words(tmp_path: Path) -> None:
    found = problems(tmp_path, BASE + "edges: ['start work']\n")
    assert len(found) == 1, found  # not also the schema's regular expression
    assert "field 'edges.0'" in found[0] and "'a -> b'" in found[0]


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("{type: parallel, branches: [work]}", "branches"),
        ("{type: parallel, branches: {a: 1}}", "branches.a"),
        ("{type: parallel, items: [1], body: 3}", "body"),
        ("{type: loop, items: [1], body: 3}", "body"),
        ("{type: loop, items: [1], body: [work], accumulate: 3}", "accumulate"),
        ("{type: condition, cases: 3}", "cases"),
    ],
)
def test_a_container_config_of_the_wrong_type_is_a_problem_not_a_crash(
    tmp_path: Path, block: str, field: str
) -> None:
    found = problems(tmp_path, BASE + f"  c: {block}\nedges: [start -> c]\n")
    assert any(f"block 'c': field '{field}'" in p for p in found), found
    # ...and not also the handler tripping over it ("'int' object has no attribute 'get'").
    assert not any("object" in p and "not of type" not in p for p in found), found


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ("{type: parallel, branches: {}}", "branches"),
        ("{type: parallel, branches: {a: [work], b: []}}", "branches.b"),
        ("{type: parallel, items: [1], body: []}", "body"),
    ],
)
def test_a_parallel_with_an_empty_body_is_refused_like_a_loop(
    tmp_path: Path, block: str, field: str
) -> None:
    found = problems(tmp_path, BASE + f"  c: {block}\nedges: [start -> c]\n")
    assert len(found) == 1 and f"block 'c': field '{field}'" in found[0], found


def test_a_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\nblocks: {start: {type: manual}}\n".encode("latin-1"))
    with pytest.raises(WorkflowError) as info:
        load_file(path)
    assert str(info.value).startswith(str(path)) and "not UTF-8" in str(info.value)


# -- the CLI ---------------------------------------------------------------------------


def cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_validate_reports_a_malformed_container_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(BASE + "  c: {type: parallel, branches: [work]}\n")
    (tmp_path / "u.yaml").write_bytes(b"name: \xff\nblocks: {}\n")
    proc = cli(["validate", "p.yaml", "u.yaml"], tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "p.yaml: block 'c': field 'branches'" in proc.stderr
    assert "u.yaml: cannot read: not UTF-8" in proc.stderr


def test_cli_run_input_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_bytes(b'{"name": "\xff"}')
    proc = cli(["run", "anything", "--input", "@in.json"], tmp_path)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("flowyard run: bad --input:") and proc.stderr.count("\n") == 1


def test_cli_run_exit_codes_follow_the_run(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "ok.yaml").write_text(BASE + "edges: [start -> work]\n")
    (tmp_path / "boom.yaml").write_text(
        "name: boom\nblocks:\n  start: {type: manual}\n"
        "  work: {type: function, code: 'raise ValueError(\"no stock\")'}\n"
        "edges: [start -> work]\n"
    )
    ok = cli(["run", "ok.yaml"], tmp_path, DATABASE_URL=database_url)
    assert ok.returncode == 0, ok.stderr
    boom = cli(["run", "boom.yaml"], tmp_path, DATABASE_URL=database_url)
    assert boom.returncode == 1 and "no stock" in boom.stdout, boom.stdout + boom.stderr


@pytest.mark.parametrize("given", ["[1]", "7", '"text"', "null", "@list.json"])
def test_cli_run_input_that_is_not_an_object_is_a_usage_error(
    tmp_path: Path, database_url: str, given: str
) -> None:
    # `[1]` was wrapped as {"value": [1]} and run, while the API answers 400 for it.
    (tmp_path / "ok.yaml").write_text(BASE + "edges: [start -> work]\n")
    (tmp_path / "list.json").write_text("[1, 2]")
    proc = cli(["run", "ok.yaml", "--input", given], tmp_path, DATABASE_URL=database_url)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("flowyard run: bad --input:"), proc.stderr
    assert "must be a JSON object" in proc.stderr and proc.stderr.count("\n") == 1
    assert proc.stdout == ""  # nothing ran


def test_cli_run_empty_input_is_an_empty_object_as_in_the_api(
    tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "ok.yaml").write_text(BASE + "edges: [start -> work]\n")
    (tmp_path / "empty.json").write_text("  \n")
    proc = cli(["run", "ok.yaml", "--input", "@empty.json"], tmp_path, DATABASE_URL=database_url)
    assert proc.returncode == 0, proc.stderr


def test_a_bare_name_that_is_no_block_in_function_code_is_named(tmp_path: Path) -> None:
    # `<nosuch>` is no reference (no such block), so it stayed as written: validation
    # said ok and the run failed with "invalid syntax". HTML in strings and comments
    # stays allowed.
    found = problems(
        tmp_path,
        "name: t\nblocks:\n  start: {type: manual}\n  f:\n    type: function\n    code: |\n"
        "      # returns <b>bold</b> markup\n      s = '<b>'\n      return <nosuch>\n"
        "edges: [start -> f]\n",
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'f': field 'code': <nosuch> on line 3 names no block"
        " upstream, nor a loop variable here"
    ]


def test_cli_run_input_against_input_schema_is_refused_before_any_run(
    tmp_path: Path, database_url: str
) -> None:
    """The API answers 422 and starts nothing; the CLI made a failed run of it."""
    name = f"typed_{uuid.uuid4().hex[:8]}"  # the database is shared: a name of its own
    (tmp_path / "typed.yaml").write_text(
        f"name: {name}\nblocks:\n  start:\n    type: manual\n    input_schema:\n"
        "      type: object\n      required: [order_id]\n"
        "      properties: {order_id: {type: string}}\n"
    )
    proc = cli(
        ["run", "typed.yaml", "--input", '{"order_id": 5}'], tmp_path, DATABASE_URL=database_url
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "input_schema" in proc.stderr and "order_id: 5 is not of type 'string'" in proc.stderr
    assert proc.stdout == ""
    runs = cli(["runs", "--workflow", name], tmp_path, DATABASE_URL=database_url)
    assert name not in runs.stdout  # no run was made


def test_an_optional_reference_in_a_flow_mapping_is_told_to_be_quoted(tmp_path: Path) -> None:
    # libyaml reads `?` after a space in `{…}` as a key indicator: the bare message
    # ("expected ',' or '}', but got '?'") gave no clue what to write instead.
    text = "name: t\nblocks:\n  start: {type: manual}\noutput: {x: <start.a?>}\n"
    (found,) = problems(tmp_path, text)
    assert found.endswith('write a reference ending in ? in quotes: "<start.a?>"')


def test_code_holding_a_colon_is_told_to_be_a_block(tmp_path: Path) -> None:
    text = 'name: t\nblocks:\n  start: {type: manual}\n  f:\n    type: function\n    code: return {"a": 1}\n'
    (found,) = problems(tmp_path, text)
    assert "mapping values are not allowed here" in found
    assert found.endswith("`key: |` with the text indented on the lines below")
