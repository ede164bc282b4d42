"""Odd values in a workflow file are validation problems, never a traceback: an
exception escaping validation failed `flowyard validate` for the files after it, and
on the server every webhook answered 500 while such a file was in the folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import WorkflowError, load_file
from engine.registry import block_types
from engine.validate import validate_document

ROOT = Path(__file__).resolve().parent.parent
HEAD = "name: t\nblocks:\n  start: {type: manual}\n"


@pytest.mark.parametrize("language", ["python", "javascript"])
@pytest.mark.parametrize("code", ["", "   ", "\n\n", "  \n\t\n"])
def test_empty_code_is_a_problem_naming_block_and_field(
    tmp_path: Path, code: str, language: str
) -> None:
    found = problems(
        tmp_path,
        HEAD + f"  f: {{type: function, language: {language}, code: {json.dumps(code)}}}\n"
        "edges: [start -> f]\n",
    )
    assert len(found) == 1, found
    assert "block 'f': field 'code': code is empty" in found[0], found


@pytest.mark.parametrize(
    ("language", "code"), [("python", "# later\n# more"), ("javascript", "// later\n/* x */")]
)
def test_code_of_only_comments_is_empty_code(tmp_path: Path, language: str, code: str) -> None:
    # Python code of comments alone passed validation, then failed to compile in the run.
    found = problems(
        tmp_path,
        HEAD + f"  f: {{type: function, language: {language}, code: {json.dumps(code)}}}\n"
        "edges: [start -> f]\n",
    )
    assert len(found) == 1 and "code is empty" in found[0], found


def test_validate_goes_on_to_the_next_file_after_empty_code(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: a\nblocks:\n  hook: {type: webhook, path: e/one}\n"
        "  f: {type: function, code: ''}\nedges: [hook -> f]\n"
    )
    (tmp_path / "b.yaml").write_text(HEAD.replace("name: t", "name: b"))
    done = subprocess.run(
        [sys.executable, "-m", "ui.cli", "validate", "a.yaml", "b.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert "a.yaml: block 'f': field 'code': code is empty" in done.stderr
    assert "b.yaml: ok" in done.stdout


ODD = ["", " ", "\n", None, [], [""], [None], {}, {"": 1}, 0, -1, 1.5, True, "<", "<x.>", "<start..x>", [[]], [{}]]  # fmt: skip
FILLED = {"body": ["x"], "code": "return 1", "branches": {"a": ["x"]}, "to": "a@b.c"}


def _document(type_name: str, field: str, value: object) -> dict:
    handler = block_types()[type_name]
    block = {"type": type_name, **{k: FILLED.get(k, "x") for k in handler.required if k != field}}
    block[field] = value
    x = {"type": "function", "code": "return 1"}
    if handler.category == "trigger":
        return {"name": "t", "blocks": {"b": block, "x": x}, "edges": ["b -> x"]}
    edges = ["start -> b"] if type_name in ("loop", "parallel") else ["start -> b", "b -> x"]
    return {
        "name": "t",
        "blocks": {"start": {"type": "manual"}, "b": block, "x": x},
        "edges": edges,
    }


def test_no_config_value_makes_validation_raise() -> None:
    # Every field of every block type, with values of every odd shape.
    for type_name, handler in sorted(block_types().items()):
        for field in [*handler.config_schema, "retries", "timeout", "on_error", "name"]:
            for value in ODD:
                try:
                    validate_document(_document(type_name, field, value), "t.yaml")
                except WorkflowError:
                    pass


@pytest.mark.parametrize(
    "value",
    ["!!timestamp x", "!!set [1]", "!!map [1]", "!!bool maybe", "!!binary aGk=", "!foo x"],
)
def test_an_odd_yaml_tag_is_a_problem_not_a_traceback(tmp_path: Path, value: str) -> None:
    # `!!timestamp x` was an AttributeError, `!!set [1]` a TypeError, `!!bool maybe` a
    # KeyError; `!!binary` gave bytes, which JSON (the editor, the API) cannot hold.
    found = problems(tmp_path, HEAD + f"description: {value}\n")
    assert len(found) == 1 and "field 'description': !" in found[0], found


@pytest.mark.parametrize(
    ("code", "ref", "line"),
    [
        ("return <start..x>", "<start..x>", 1),
        ("x = 1\nreturn <start.>", "<start.>", 2),
        ("return <start.x> + <start.y.>", "<start.y.>", 1),
    ],
)
def test_a_broken_reference_in_code_is_named(
    tmp_path: Path, code: str, ref: str, line: int
) -> None:
    # It was "Python syntax error on line 1: invalid syntax".
    found = problems(
        tmp_path, HEAD + f"  f: {{type: function, code: {json.dumps(code)}}}\nedges: [start -> f]\n"
    )
    assert found == [
        f"{tmp_path / 'bad.yaml'}: block 'f': field 'code': {ref} on line {line} is not a valid "
        "reference: its path is names or list indexes joined by single dots, e.g. <start.x> or "
        "<start.rows.0>"
    ]


def test_a_layout_entry_is_two_or_four_numbers(tmp_path: Path) -> None:
    base = "name: t\nblocks:\n  s: {type: manual}\nlayout: {s: POS}\n"
    [problem] = problems(tmp_path, base.replace("POS", "[1, 2, 3]"))
    assert "field 'layout.s'" in problem and "write [x, y], or [x, y, width, height]" in problem
    for ok in ("[1, 2]", "[1, 2, 30, 40]"):
        path = tmp_path / "ok.yaml"
        path.write_text(base.replace("POS", ok))
        load_file(path)


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout", "1e308"), ("timeout", "31622401"), ("retry_backoff", "1e308"),
     ("retry_backoff", "86401")],
)  # fmt: skip
def test_a_duration_past_its_ceiling_is_a_problem(tmp_path: Path, field: str, value: str) -> None:
    """`timeout: 1e308` validated, and `flowyard run` printed the run's result and
    never exited; `retry_backoff: 1e308` waited for ever before its first retry (a
    timer cannot wait that long). A timeout is at most a year, a backoff a day."""
    text = HEAD + f"  f: {{type: function, code: 'return 1', retries: 1, {field}: {value}}}\n"
    found = problems(tmp_path, text + "edges: [start -> f]\n")
    assert len(found) == 1 and f"block 'f': field '{field}':" in found[0], found


async def test_the_longest_durations_allowed_run(run_yaml) -> None:
    text = HEAD + (
        "  f: {type: function, code: 'return 1', retries: 1, timeout: 31622400,"
        " retry_backoff: 86400}\nedges: [start -> f]\noutput: <f>\n"
    )
    result = await run_yaml(text)
    assert result["status"] == "succeeded", result["error"]


@pytest.mark.parametrize("value", ["[]", "[function]", "{}", "{a: 1}"])
def test_a_block_type_that_is_a_list_or_mapping_is_a_problem(tmp_path: Path, value: str) -> None:
    # `type: [function]` (a typo for a flow list, or a copy of the editor's palette)
    # was a TypeError: `flowyard validate` printed a traceback and a save was a 500.
    found = problems(tmp_path, HEAD + f"  f: {{type: {value}, code: 'return 1'}}\n")
    assert any("block 'f': field 'type'" in p for p in found), found


@pytest.mark.parametrize("language", ["python", "javascript"])
def test_code_with_a_lone_surrogate_is_a_problem_naming_block_and_field(
    tmp_path: Path, language: str
) -> None:
    # YAML's "\ud800" (or JSON's, in an API save) is a lone UTF-16 surrogate, which no
    # UTF-8 text holds: compiling the code raised UnicodeEncodeError, so `flowyard
    # validate` printed a traceback and the editor's save was a 500.
    found = problems(
        tmp_path,
        HEAD + f'  f: {{type: function, language: {language}, code: "return \\"\\ud800\\""}}\n'
        "edges: [start -> f]\n",
    )
    assert len(found) == 1, found
    assert "block 'f': field 'code': code contains a lone UTF-16 surrogate (\\ud800)" in found[0]


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ('{type: condition, if: "<start.x> == \\"\\ud800\\""}', "if"),
        ('{type: loop, while: "<start.x> == \\"\\udfff\\"", body: []}', "while"),
    ],
)
def test_an_expression_with_a_lone_surrogate_is_a_problem_naming_its_field(
    tmp_path: Path, block: str, field: str
) -> None:
    # Was "block 'b': invalid config: 'utf-8' codec can't encode …", no field named.
    found = problems(tmp_path, HEAD + f"  b: {block}\nedges: [start -> b]\n")
    assert any(f"block 'b': field '{field}': bad expression" in p for p in found), found
    assert any("lone UTF-16 surrogate" in p for p in found), found
