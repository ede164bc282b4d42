"""Every kind of validation error names the file, the block and the field."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import py_mini_racer  # noqa: F401 - a test extra: missing, these tests must fail, not skip
import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file
from engine.schema import workflow_schema

ROOT = Path(__file__).resolve().parent.parent


def one(tmp_path: Path, text: str) -> str:
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


BASE = "name: t\nblocks:\n  start: {type: manual}\n"


def test_unknown_block_type(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  x: {type: teleport}\n")
    assert "block 'x'" in msg and "field 'type'" in msg and "unknown block type 'teleport'" in msg


def test_unknown_key(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  f: {type: function, code: 'return 1', colour: red}\n")
    assert "block 'f'" in msg and "field 'colour'" in msg and "unknown key 'colour'" in msg


def test_missing_required_key(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  f: {type: function}\n")
    assert "block 'f'" in msg and "'code'" in msg


def test_duplicate_id(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  start: {type: manual}\n")
    assert "duplicate block id 'start'" in msg


def test_duplicate_key_inside_a_block_names_the_block(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  f: {type: function, code: 'return 1', code: 'return 2'}\n")
    assert "block 'f'" in msg and "field 'code'" in msg and "duplicate key 'code'" in msg


def test_edge_to_missing_block(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "edges: [start -> ghost]\n")
    # Located at the edge: "block 'ghost': …" named the missing block as where it is.
    assert msg.endswith(": field 'edges.0': edge start -> ghost names missing block 'ghost'"), msg


def test_cycle(tmp_path: Path) -> None:
    text = (
        BASE
        + "  a: {type: function, code: 'return 1'}\n  b: {type: function, code: 'return 1'}\nedges: [start -> a, a -> b, b -> a]\n"
    )
    msg = one(tmp_path, text)
    assert "cycle" in msg and "field 'edges'" in msg


def test_reference_to_block_not_upstream(tmp_path: Path) -> None:
    text = (
        BASE
        + "  a: {type: function, code: 'return <b.x>'}\n  b: {type: function, code: 'return 1'}\nedges: [start -> a, a -> b]\n"
    )
    msg = one(tmp_path, text)
    assert "block 'a'" in msg and "field 'code'" in msg and "<b.x>" in msg and "not upstream" in msg


def test_reference_to_unknown_block(tmp_path: Path) -> None:
    msg = one(
        tmp_path, BASE + "  a: {type: function, code: 'return <nope.x>'}\nedges: [start -> a]\n"
    )
    assert "unknown block 'nope'" in msg


def test_bad_expression(tmp_path: Path) -> None:
    msg = one(
        tmp_path, BASE + "  c: {type: condition, if: '<start.x> ==== 3'}\nedges: [start -> c]\n"
    )
    assert "block 'c'" in msg and "field 'if'" in msg and "bad expression" in msg


def test_bad_port(tmp_path: Path) -> None:
    text = (
        BASE
        + "  c: {type: condition, if: 'True'}\n  a: {type: function, code: 'return 1'}\nedges: [start -> c, c.maybe -> a]\n"
    )
    assert "no port 'maybe'" in one(tmp_path, text)


@pytest.mark.parametrize("on_error", ["", ", on_error: fail"])
def test_an_error_edge_needs_on_error_continue(tmp_path: Path, on_error: str) -> None:
    """Accepted, it could never be taken: the run failed at boom and e stayed pending."""
    text = BASE + (
        f"  boom: {{type: function, code: \"raise ValueError('x')\"{on_error}}}\n"
        "  e: {type: function, code: 'return 1'}\n"
        "edges: [start -> boom, boom.error -> e]\n"
    )
    assert one(tmp_path, text).endswith(
        ": block 'boom': field 'edges': edge boom.error -> e: the error port is taken only "
        "with on_error: continue; add `on_error: continue` to boom"
    )


def test_an_error_edge_from_a_misspelt_on_error_is_said_once(tmp_path: Path) -> None:
    text = BASE + (
        "  boom: {type: function, code: 'return 1', on_error: contine}\n"
        "  e: {type: function, code: 'return 1'}\n"
        "edges: [start -> boom, boom.error -> e]\n"
    )
    assert "field 'on_error': 'contine' is not one of" in one(tmp_path, text)


def test_python_syntax_error(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  f: {type: function, code: 'return (('}\n")
    assert "block 'f'" in msg and "field 'code'" in msg and "syntax error" in msg


def _js(code: str) -> str:
    block = "  f:\n    type: function\n    language: javascript\n    code: |\n"
    body = "".join(f"      {line}\n" for line in code.splitlines())
    return BASE + block + body + "edges: [start -> f]\n"


def test_javascript_syntax_error_names_block_field_and_line(tmp_path: Path) -> None:
    msg = one(tmp_path, _js("const a = 1;\nreturn {a: a,, b: 2};"))
    assert "block 'f'" in msg and "field 'code'" in msg, msg
    assert "JavaScript syntax error on line 2: Unexpected token ','" in msg, msg


def test_javascript_code_cut_short_is_a_syntax_error(tmp_path: Path) -> None:
    msg = one(tmp_path, _js("const a = [1, 2;\nreturn a;"))
    assert "block 'f'" in msg and "field 'code'" in msg and "JavaScript syntax error" in msg, msg
    msg = one(tmp_path, _js("return (1 +"))
    assert "JavaScript syntax error at the end of the code: something is left open" in msg, msg
    msg = one(tmp_path, _js("if (true) {\n  return 1;\n}}"))
    assert "JavaScript syntax error at the end of the code" in msg and "closed once too" in msg


def test_javascript_is_checked_not_run_at_validation(tmp_path: Path) -> None:
    path = tmp_path / "loops.yaml"
    # References become variables as at run time; `await` is allowed (an async body).
    path.write_text(_js("await null;\nconst n = <start.n> + 1;\nwhile (true) {}"))
    started = time.monotonic()
    assert list(load_file(path).blocks) == ["start", "f"]
    assert time.monotonic() - started < 5


def test_javascript_is_not_checked_without_a_javascript_runtime(tmp_path: Path) -> None:
    # An interpreter where mini-racer cannot be imported (the [js] extra not installed):
    # loading must not fail because of that; running the block says what to install.
    path = tmp_path / "js.yaml"
    path.write_text(_js("return (("))
    check = (
        "import sys; sys.modules['py_mini_racer'] = None\n"
        "import blocks\nfrom engine.model import load_file\n"
        f"print(sorted(load_file({str(path)!r}).blocks))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['f', 'start']"
    assert "JavaScript Function blocks are not syntax-checked" in proc.stderr


def test_all_problems_reported_together(tmp_path: Path) -> None:
    text = (
        BASE
        + "  x: {type: teleport}\n  f: {type: function, code: 'return 1', colour: red}\nedges: [start -> ghost]\n"
    )
    assert len(problems(tmp_path, text)) == 3


def test_cli_validate_prints_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE + "  x: {type: teleport}\nedges: [start -> ghost]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "validate", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 1
    assert "teleport" in proc.stderr and "ghost" in proc.stderr


def test_published_schema_is_in_sync() -> None:
    published = json.loads((ROOT / "docs" / "workflow.schema.json").read_text())
    assert published == workflow_schema(), "run: flowyard schema > docs/workflow.schema.json"


def test_example_workflows_validate() -> None:
    for path in sorted((ROOT / "workflows").glob("*.yaml")):
        load_file(path)


def test_a_while_naming_a_body_block_is_refused(tmp_path: Path) -> None:
    # Accepted, it failed every run ("names 'lb2', which has no value here"); with
    # `?` it silently ran to max_iterations.
    text = BASE + (
        "  lp: {type: loop, while: '<lb2.result?> < 3', body: [lb2]}\n"
        "  lb2: {type: function, code: 'return 1'}\n"
        "edges: [start -> lp]\n"
    )
    found = one(tmp_path, text)
    assert "lp" in found and "while" in found and "<lb2.result?>" in found, found
    assert "<state>" in found


#: A body's block (a trigger such as `manual` may not be in a body).
BODY_BLOCK = "  b: {type: function, code: 'return 1'}\n"

SCHEMA_ALSO_REFUSES = {
    "if_and_cases": "  c: {type: condition, if: '1 == 1', cases: [{name: a, if: '1 == 1'}]}\n",
    "neither_if_nor_cases": "  c: {type: condition}\n",
    "two_loop_modes": "  c: {type: loop, items: [1], count: 2, body: [b]}\n" + BODY_BLOCK,
    "no_loop_mode": "  c: {type: loop, body: [b]}\n" + BODY_BLOCK,
    "empty_body": "  c: {type: loop, count: 1, body: []}\n",
    "negative_count": "  c: {type: loop, count: -1, body: [b]}\n" + BODY_BLOCK,
    "branches_and_items": "  c: {type: parallel, branches: {x: [b]}, items: [1], body: [b]}\n"
    + BODY_BLOCK,
    "unknown_method": "  c: {type: http, method: FETCH, url: 'http://x'}\n",
    "reserved_id": "  input: {type: manual}\n",
    "zero_timeout": "  c: {type: function, timeout: 0, code: 'return 1'}\n",
}


@pytest.mark.parametrize("case", sorted(SCHEMA_ALSO_REFUSES))
def test_the_published_schema_refuses_what_validate_refuses(tmp_path: Path, case: str) -> None:
    """Editors and CI linters read docs/workflow.schema.json: it accepted all these."""
    import jsonschema
    import yaml

    text = BASE + SCHEMA_ALSO_REFUSES[case]
    assert one(tmp_path, text)  # validate: one problem, in words (not twice)
    schema = json.loads((ROOT / "docs" / "workflow.schema.json").read_text())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(text)))
    assert errors, case


@pytest.mark.parametrize(
    ("cases", "said"),
    [
        ("[{name: a, if: '1 == 1'}, {name: a, if: '2 == 2'}]", "two ports named 'a'"),
        ("[{name: error, if: '1 == 1'}]", "`error` is the port a failed block takes"),
        ("[{name: a, if: '1 == 1'}], else: a", "two ports named 'a'"),
    ],
)
def test_case_ports_are_distinct_and_not_error(tmp_path: Path, cases: str, said: str) -> None:
    text = BASE + f"  c: {{type: condition, cases: {cases}}}\nedges: [start -> c]\n"
    assert said in one(tmp_path, text)


def test_an_unknown_key_with_a_quote_in_it_is_named(tmp_path: Path) -> None:
    """`time'out: 5` passed validation and was ignored: the key was read out of
    jsonschema's message, which quotes such a key with double quotes."""
    text = BASE + '  f: {type: function, code: "return 1", "time\'out": 5}\n'
    found = one(tmp_path, text)
    assert "block 'f'" in found and 'unknown key "time\'out" for a function block' in found


def test_a_case_named_error_with_its_edge_wired_is_one_problem(tmp_path: Path) -> None:
    """The edge `c.error -> x` also got "add `on_error: continue` to c": a fix that
    would not help, since the case's name is what is wrong."""
    text = BASE + (
        "  c: {type: condition, cases: [{name: error, if: '1 == 1'}]}\n"
        "  x: {type: function, code: 'return 1'}\n"
        "edges: [start -> c, c.error -> x]\n"
    )
    assert "`error` is the port a failed block takes" in one(tmp_path, text)


def test_accumulate_next_outside_the_body_is_refused(tmp_path: Path) -> None:
    text = BASE + (
        "  lp:\n    type: loop\n    count: 3\n    body: [add]\n"
        "    accumulate: {initial: 0, next: <start.x>}\n"
        "  add: {type: function, code: 'return {\"total\": 1}'}\n"
        "edges: [start -> lp]\n"
    )
    found = one(tmp_path, text)
    assert "accumulate.next" in found and "<start.x> is outside it" in found


def test_a_typo_in_accumulate_is_an_unknown_key_not_blamed_on_initial(tmp_path: Path) -> None:
    # Was also: "`accumulate.initial` is resolved before the body runs, where block
    # 'add' …", for a reference that sits in `nxt`.
    text = BASE + (
        "  lp:\n    type: loop\n    count: 3\n    body: [add]\n"
        "    accumulate: {initial: 0, nxt: <add.total>}\n"
        "  add: {type: function, code: 'return {\"total\": 1}'}\n"
        "edges: [start -> lp]\n"
    )
    found = problems(tmp_path, text)
    assert [p.split(": ", 1)[1] for p in found] == [
        "block 'lp': field 'accumulate.next': missing required key 'next'",
        "block 'lp': field 'accumulate.nxt': unknown key 'nxt'; did you mean 'next'?",
    ], found


def test_the_output_reading_no_block_says_there_is_none(tmp_path: Path) -> None:
    # Was: "reference <b.x> must name a top-level block", as if `b` were in a body.
    assert one(tmp_path, BASE + "output: <b.x>\n").endswith(
        "field 'output': reference <b.x> names unknown block 'b'"
    )
    text = BASE + (
        "  lp: {type: loop, count: 2, body: [inner]}\n"
        "  inner: {type: loop, count: 2, body: [add]}\n"
        "  add: {type: function, code: 'return 1'}\n"
        "edges: [start -> lp]\noutput: <add.result>\n"
    )
    assert one(tmp_path, text).endswith(
        "field 'output': reference <add.result> must name a top-level block: block 'add' is "
        "inside the body of 'lp', whose output is <lp.results>"
    )


def test_the_published_schema_is_a_valid_schema_and_dollar_comment_is_an_unknown_key(
    tmp_path: Path,
) -> None:
    """Marking rules put "$comment" inside `properties`: 24 schema errors, and a block
    with a `$comment` key crashed validation."""
    import jsonschema

    schema = json.loads((ROOT / "docs" / "workflow.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    text = BASE + "  lp: {type: loop, count: 2, body: [b], $comment: hi}\n" + BODY_BLOCK
    assert "unknown key '$comment'" in one(tmp_path, text)


def test_every_bad_port_of_a_condition_is_reported(tmp_path: Path) -> None:
    text = BASE + (
        "  c: {type: condition, cases: [{name: error, if: '1 == 1'}], else: error}\n"
        "edges: [start -> c]\n"
    )
    found = problems(tmp_path, text)
    assert len(found) == 2 and all("`error` is the port" in f for f in found), found
    assert "field 'cases.0.name'" in found[0] and "field 'else'" in found[1]


def test_retries_on_a_container_whose_body_has_an_effect_are_refused(tmp_path: Path) -> None:
    """A loop's `retries` run its whole body again: an INSERT in it was applied again
    for every iteration that had succeeded (three rows twice for one failure)."""
    body = (
        "  each:\n    type: loop\n    items: [1, 2]\n    retries: 2\n    body: [inner]\n"
        "  inner:\n    type: parallel\n    branches: {a: [ins]}\n"
        "  ins: {type: database, query: 'INSERT INTO t VALUES (<item>)'}\n"
        "edges: [start -> each]\n"
    )
    found = problems(tmp_path, BASE + body)
    assert len(found) == 1, found
    assert "block 'each'" in found[0] and "field 'retries'" in found[0]
    assert "the database block 'ins' would be applied again" in found[0]
    # Blocks that repeat safely (a Function; an HTTP request with its Idempotency-Key)
    # keep the container's retries.
    safe = body.replace(
        "type: database, query: 'INSERT INTO t VALUES (<item>)'", "type: function, code: 'return 1'"
    )
    (tmp_path / "safe.yaml").write_text(BASE + safe)
    assert load_file(tmp_path / "safe.yaml").blocks["each"].retries == 2


@pytest.mark.parametrize("name", ["''", "'   '"])
def test_a_blank_workflow_name_is_refused(tmp_path: Path, name: str) -> None:
    """`name: '  '` passed the engine and the schema: a workflow with a blank title."""
    found = one(tmp_path, f"name: {name}\nblocks:\n  start: {{type: manual}}\n")
    assert "field 'name'" in found and "the workflow's name is empty" in found
