"""Expressions (`if`, `while`, `cases`) are checked when the workflow loads: a name
that would be undefined when the run evaluates it, or syntax the evaluator cannot
run, is a validation problem naming file, block and field; YAML booleans and numbers
are expressions too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from scopes import Scope
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.expressions import Expression, ExpressionError
from engine.model import load_file

ROOT = Path(__file__).resolve().parent.parent
BASE = "name: t\nblocks:\n  start: {type: manual}\n"


SCOPE = Scope({"a": {"list": [1, 2, 3], "d": {"k": 2}, "s": "Paid"}})


def one(tmp_path: Path, text: str) -> str:
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


# -- 1. undefined names ------------------------------------------------------------


def test_an_undefined_name_in_if_is_a_validation_problem(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  c: {type: condition, if: 'x == 1'}\nedges: [start -> c]\n")
    assert "bad.yaml" in msg and "block 'c'" in msg and "field 'if'" in msg
    assert "'x' is not defined" in msg and "<block.field>" in msg


def test_an_undefined_name_in_a_case_names_the_case(tmp_path: Path) -> None:
    text = (
        BASE + "  c:\n    type: condition\n    cases:\n"
        "      - {name: ok, if: 'True'}\n      - {name: big, if: '<start.n> > limit'}\n"
        "edges: [start -> c]\n"
    )
    msg = one(tmp_path, text)
    assert "block 'c'" in msg and "field 'cases.1.if'" in msg and "'limit' is not defined" in msg


def test_an_undefined_name_in_while_is_a_validation_problem(tmp_path: Path) -> None:
    text = (
        BASE + "  l: {type: loop, while: 'n < 3', body: [f]}\n"
        "  f: {type: function, code: 'return 1'}\nedges: [start -> l]\n"
    )
    msg = one(tmp_path, text)
    assert "block 'l'" in msg and "field 'while'" in msg and "'n' is not defined" in msg


def test_lower_case_true_gets_a_hint(tmp_path: Path) -> None:
    text = BASE + "  c: {type: condition, if: '<start.ok> == true'}\nedges: [start -> c]\n"
    msg = one(tmp_path, text)
    assert "'true' is not defined" in msg and "True" in msg.split("'true' is not defined")[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[y * 2 for y in <a.list> if y > 1]", [4, 6]),
        ("[y + z for y in <a.list> for z in [y] if z == y]", [2, 4, 6]),
        ("{k: v for k, v in <a.d>.items()}", {"k": 2}),
        ("sum(y for y in <a.list>)", 6),
        ("[[z for z in range_ if z] for range_ in [<a.list>]]", [[1, 2, 3]]),
        ("len(<a.list>) == 3 and True and None is None", True),
        ("max(<a.list>, key=abs)", 3),
        ("list(<a.d>.keys()) + [str(int(float('1')))]", ["k", "1"]),
        ('[*<a.list>, 4] if <a.s>.lower() == "paid" else False', [1, 2, 3, 4]),
    ],
)
def test_names_the_evaluator_provides_are_not_flagged(text: str, expected: Any) -> None:
    assert Expression(text).evaluate(SCOPE) == expected


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("[y for y in <a.list>] and y", "y"),  # a comprehension's variable stays inside it
        ("[y for y in y]", "y"),  # the first `in` is read outside the comprehension
        ("<a.list> == items", "items"),
        ("__ref_1 == 1", "__ref_1"),  # only references the expression has are bound
    ],
)
def test_names_outside_their_scope_are_flagged(text: str, name: str) -> None:
    with pytest.raises(ExpressionError, match=f"'{name}' is not defined"):
        Expression(text)


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("max(<a.list>, key=lambda v: -v) > 0", "lambda"),
        ("{y for y in <a.list>}", "set comprehension"),
        ("(n := len(<a.list>)) > 1", ":="),
        ("max(*<a.list>)", "*"),
        ("<a.list> @ <a.list>", "@"),
    ],
)
def test_syntax_the_evaluator_cannot_run_is_refused_at_load(text: str, what: str) -> None:
    """These passed validation and failed only when a run reached the block."""
    with pytest.raises(ExpressionError) as info:
        Expression(text)
    assert what in str(info.value) and "not defined" not in str(info.value)


def test_lambda_in_a_workflow_is_reported_at_validation(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  c: {type: condition, if: 'max([1], key=lambda v: v) == 1'}\n")
    assert "block 'c'" in msg and "field 'if'" in msg and "lambda" in msg


def test_the_function_allow_list_does_not_depend_on_what_loaded_first() -> None:
    """simpleeval adds list/tuple/dict/set to the functions it is given: sharing the
    module's dict made `list(...)` refused in a fresh process, allowed after any other
    expression had been compiled."""
    code = "from engine.expressions import Expression; Expression('list(<a.list>)')"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


# -- 2. YAML booleans and numbers where an expression is expected --------------------


LOOP = (
    "  l: {{type: loop, while: {value}, body: [f], max_iterations: 3}}\n"
    "  f: {{type: function, code: 'return 1'}}\nedges: [start -> l]\n"
)


@pytest.mark.parametrize("value", ["True", "false", "0", "1"])
def test_while_accepts_a_yaml_boolean_or_number(tmp_path: Path, value: str) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(BASE + LOOP.format(value=value))
    wf = load_file(path)
    assert wf.blocks["l"].config["while"] in (True, False, 0, 1)


@pytest.mark.parametrize("value", ["false", "1", "2.5"])
def test_if_and_cases_accept_a_yaml_boolean_or_number(tmp_path: Path, value: str) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        BASE + f"  c: {{type: condition, if: {value}}}\n"
        f"  d: {{type: condition, cases: [{{name: x, if: {value}}}]}}\n"
        "edges: [start -> c, start -> d]\n"
    )
    load_file(path)


def test_an_empty_expression_is_still_refused(tmp_path: Path) -> None:
    msg = one(tmp_path, BASE + "  c: {type: condition, if: }\nedges: [start -> c]\n")
    assert "block 'c'" in msg and "field 'if'" in msg


@pytest.mark.parametrize(("value", "text"), [(True, "True"), (False, "False"), (0, "0"), (2, "2")])
def test_a_constant_means_what_its_expression_text_means(value: Any, text: str) -> None:
    assert Expression(value).evaluate(SCOPE) == Expression(text).evaluate(SCOPE) == value


async def test_boolean_conditions_route_and_stop_loops(run_yaml) -> None:
    wf = """
    name: yaml_booleans
    blocks:
      start: {type: manual}
      never: {type: loop, while: false, body: [tick]}
      tick: {type: function, code: "return 1"}
      route: {type: condition, if: true}
      on_true: {type: function, code: "return {'took': 'true'}"}
      on_false: {type: function, code: "return {'took': 'false'}"}
    edges: [start -> never, never -> route, route.true -> on_true, route.false -> on_false]
    output:
      loop: <never.iterations>
      route: <route.branch>
      took: <on_true.took?>
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"loop": 0, "route": "true", "took": "true"}
    assert result["blocks"]["on_false"]["status"] == "skipped"
