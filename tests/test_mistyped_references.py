"""Text that is a reference with a typo in it (`<f.result >`, `<f..result>`) was no
reference, so it passed validation and was sent as it is: `json: {v: "<f.result >"}`
posted `{"v": "<f.result >"}`. Validation names it, with the reference it would be;
HTML, comparisons and other text with angle brackets stay what they are."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file

BASE = """\
name: t
blocks:
  start: {type: manual}
  f:
    type: function
    code: 'return {"result": 1}'
"""
EDGES = "edges: [start -> f, f -> h]\n"


def _with(block: str, tail: str = "") -> str:
    return BASE + textwrap.indent(textwrap.dedent(block), "  ") + EDGES + tail


def _http_json(value: str) -> str:
    return _with(
        f"h:\n  type: http\n  method: POST\n  url: http://127.0.0.1:9/\n  json: {{v: '{value}'}}\n"
    )


def _loads(tmp_path: Path, text: str) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    load_file(path)


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("<f.result >", "<f.result>"),
        ("<f..result>", "<f.result>"),
        ("<f.result.>", "<f.result>"),
        ("<f.>", "<f>"),
        ("<f .result>", "<f.result>"),
        ("<f.res ult>", "<f.result>"),
        ("<f.result ?>", "<f.result?>"),
        ("<input.n >", "<input.n>"),
        ("<env.HOME >", "<env.HOME>"),
        ("<workflow.name >", "<workflow.name>"),
        ("id <f.result > of <input.n>", "<f.result>"),  # inside longer text
    ],
)
def test_a_mistyped_reference_in_text_is_named_at_validation(
    tmp_path: Path, written: str, meant: str
) -> None:
    [said] = problems(tmp_path, _http_json(written))
    typo = written[written.index("<") : written.index(">") + 1]
    assert "block 'h': field 'json'" in said
    assert f"{typo} is not a valid reference" in said and said.endswith(f"write {meant}")


def test_in_sql_and_the_workflow_output_too(tmp_path: Path) -> None:
    sql = _with("h:\n  type: database\n  query: SELECT '<input.id >' AS v, <f..result> AS w\n")
    said = problems(tmp_path, sql)
    assert len(said) == 2, said
    assert all("block 'h': field 'query'" in s for s in said)
    assert said[0].endswith("write <input.id>") and said[1].endswith("write <f.result>")
    [out] = problems(
        tmp_path, _with("h: {type: function, code: return 2}\n", 'output: "<f.result >"\n')
    )
    assert "field 'output'" in out and "block" not in out.split("field")[0].split(":", 1)[1]
    assert out.endswith("write <f.result>")


def test_in_a_loop_body_its_variables_are_known_roots(tmp_path: Path) -> None:
    text = BASE + textwrap.dedent("""\
      each:
        type: loop
        items: [{name: a}]
        as: row
        body: [tell]
      tell:
        type: slack
        webhook_url: http://127.0.0.1:9/
        text: "<row.name > is number <loop.index >"
    edges: [start -> f, f -> each]
    """)
    said = problems(tmp_path, text)
    assert all("block 'tell': field 'text'" in s for s in said), said
    assert [s.rsplit("write ", 1)[1] for s in said] == ["<row.name>", "<loop.index>"]


@pytest.mark.parametrize(
    "text",
    [
        "<b>bold</b><br/>",  # HTML
        '<a href="https://example.com/f.html">f.result</a>',
        "x <f and y>",  # comparisons in prose or quoted code
        "if a <input and b > 3",
        "if a <input.x and b > 3",
        "1 < f.result > 0",  # a blank after `<`: a comparison
        "<nosuch.x y>",  # no known root
        "mail <user@f.com>",
        "<f.result>",  # a reference
    ],
)
def test_other_angle_brackets_in_text_are_left_alone(tmp_path: Path, text: str) -> None:
    _loads(
        tmp_path,
        _with(f"h:\n  type: slack\n  webhook_url: http://127.0.0.1:9/\n  text: '{text}'\n"),
    )


@pytest.mark.parametrize(
    "code",
    [
        "a, b = 1, 2\nif a <input and b > 3:\n    pass\nreturn 1",
        "f, y = 1, 2\nx = 0\nreturn x <f and y> 0",
        "b = 1\nif b <input.n and b > 3:\n    pass\nreturn 1",
        "if 0 <input.n > 5:\n    pass\nreturn '<b>' + '<br/>'",
    ],
)
def test_python_function_code_is_code(tmp_path: Path, code: str) -> None:
    _loads(tmp_path, _with(f"h:\n  type: function\n  code: |\n{textwrap.indent(code, '    ')}\n"))


def test_javascript_function_code_is_code(tmp_path: Path) -> None:
    code = "const a = 1, b = 2;\nif (a <input.n && b > 3) { return 1; }\nreturn a <f && b> 3;"
    _loads(
        tmp_path,
        _with(
            f"h:\n  type: function\n  language: javascript\n  code: |\n{textwrap.indent(code, '    ')}\n"
        ),
    )


def test_words_apart_in_sql_and_expressions_are_code(tmp_path: Path) -> None:
    sql = "SELECT 1 FROM t WHERE a <f.result AND b> 3 AND c <> <f.result>"
    _loads(tmp_path, _with(f"h:\n  type: database\n  query: '{sql}'\n"))
    condition = "h: {type: condition, if: '<f.result> < 3 and <input.n> > 1'}\n"
    _loads(tmp_path, _with(condition))


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("<f.rows[0].id>", "<f.rows.0.id>"),
        ("<f.rows[-1]>", "<f.rows.-1>"),
        ("<f[0]>", "<f.0>"),
        ('<f.order["total"]>', "<f.order.total>"),
        ("id=<f.rows[0].id>&x=1", "<f.rows.0.id>"),
    ],
)
def test_a_bracketed_index_is_named_at_validation(tmp_path: Path, written: str, meant: str) -> None:
    # `rows[0]` as JavaScript and n8n write it was no reference: the text was sent as
    # it is (`id=<f.rows[0].id>` in a message, a URL), silently.
    slack = f"h:\n  type: slack\n  webhook_url: http://127.0.0.1:9/\n  text: '{written}'\n"
    [said] = problems(tmp_path, _with(slack))
    assert "block 'h': field 'text'" in said and said.endswith(f"write {meant}")


def test_a_bracketed_index_in_an_expression_is_named_too(tmp_path: Path) -> None:
    said = problems(tmp_path, _with("h: {type: condition, if: '<f.rows[0].id> == 7'}\n"))
    assert any(s.endswith("write <f.rows.0.id>") for s in said), said
    # Indexing the value a reference holds is the expression's own syntax.
    _loads(tmp_path, _with("h: {type: condition, if: '<f.rows>[0].id == 7'}\n"))


@pytest.mark.parametrize("written", ["<f.rows[0].id>", "<f..result>", "<f.result.>"])
def test_javascript_code_names_a_mistyped_reference_as_python_code_does(
    tmp_path: Path, written: str
) -> None:
    # V8 said only "JavaScript syntax error on line 2: Unexpected token '<'".
    code = f"const a = 1;\nreturn {written};"
    js = f"h:\n  type: function\n  language: javascript\n  code: |\n{textwrap.indent(code, '    ')}\n"
    [said] = problems(tmp_path, _with(js))
    assert "block 'h': field 'code'" in said
    assert f"{written} on line 2 is not a valid reference" in said, said
