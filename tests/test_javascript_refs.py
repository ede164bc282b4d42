"""A reference inside a JavaScript string, template text or regular expression literal
is text, not code: validation refuses it with the way to write it (concatenation, or
a template literal's `${…}`). Inside `${…}` it is code, as anywhere else; references
in comments are left alone, at validation and at run time."""

from __future__ import annotations

from pathlib import Path

import py_mini_racer  # noqa: F401 - a test extra: missing, these tests must fail, not skip
import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.javascript_refs import references_in_javascript_literals, rewrite_javascript
from engine.model import load_file

BASE = "name: t\nblocks:\n  start: {type: manual}\n"


def js(code: str) -> str:
    body = "".join(f"      {line}\n" for line in code.splitlines())
    block = "  f:\n    type: function\n    language: javascript\n    code: |\n"
    return BASE + block + body + "edges: [start -> f]\n"


def one(tmp_path: Path, text: str) -> str:
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize("quote", ["'", '"'])
def test_a_reference_in_a_javascript_string_is_refused(tmp_path: Path, quote: str) -> None:
    code = f"const x = 1;\nreturn {quote}<start.s>{quote} + '|' + <start.s>;"
    msg = one(tmp_path, js(code))
    assert "bad.yaml" in msg and "block 'f'" in msg and "field 'code'" in msg, msg
    assert "<start.s>" in msg and "line 2" in msg and "string literal" in msg, msg
    assert '"…" + <start.s>' in msg and "`…${<start.s>}…`" in msg, msg  # how to write it


def test_a_reference_in_template_text_is_refused(tmp_path: Path) -> None:
    msg = one(tmp_path, js("return `s=<start.s> n=${<start.n>}`;"))
    assert "block 'f'" in msg and "field 'code'" in msg and "line 1" in msg, msg
    assert "<start.s>" in msg and "<start.n>" not in msg and "template literal" in msg, msg
    assert "`…${<start.s>}…`" in msg, msg


def test_a_reference_in_a_regular_expression_literal_is_refused(tmp_path: Path) -> None:
    msg = one(tmp_path, js("const s = 'x';\nreturn /^<start.s>$/.test(s);"))
    assert "line 2" in msg and "regular expression literal" in msg and "new RegExp" in msg, msg


def test_every_reference_in_javascript_literals_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, js("return ['<start.a>', `\n<start.b> ${'<start.c>'}`];"))
    assert len(found) == 3, found
    assert "<start.a>" in found[0] and "line 1" in found[0] and "string literal" in found[0]
    assert "<start.b>" in found[1] and "line 2" in found[1] and "template literal" in found[1]
    assert "<start.c>" in found[2] and "line 2" in found[2] and "string literal" in found[2]


def test_html_and_comments_in_javascript_are_not_references(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    code = '// reads <start.s>, it\'s "fine"\n/* and `<start.n>` */\nreturn \'<b>\' + <start.s> + "</b>";'
    path.write_text(js(code))
    assert list(load_file(path).blocks) == ["start", "f"]


async def test_javascript_reads_references_in_template_braces_and_code(run_yaml) -> None:
    wf = """
    name: js-templates
    blocks:
      start: {type: manual}
      f:
        type: function
        language: javascript
        code: |
          // was `<start.gone>`: a comment is not resolved, so a missing field is no error
          const n = `${ {v: `${<start.n> + 1}`}.v }`;  /* "<start.s>" */
          return `${<start.s>}|${n}|` + <start.s> + "<b>" + 10 / <start.n> / 2;
    edges: [start -> f]
    """
    result = await run_yaml(wf, {"s": "hi", "n": 1})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["result"] == "hi|2|hi<b>5"  # the values, not `__ref_0`


# -- the scanner -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('return "<a.b>" + <a.b>', [(1, "<a.b>", "string")]),
        (
            "return 'it\\'s <a.b>' + \"\\\"<a.c>\" + <a.d>",
            [(1, "<a.b>", "string"), (1, "<a.c>", "string")],
        ),
        ("return `${<a.b>}`", []),
        ("return `x <a.b> ${<a.c>}`", [(1, "<a.b>", "template")]),
        ("return `\\` <a.b> \\${<a.c>}`", [(1, "<a.b>", "template"), (1, "<a.c>", "template")]),
        ("return `${ '<a.b>' }`", [(1, "<a.b>", "string")]),
        # nested braces and templates inside `${…}`: the outer text resumes after them
        (
            "return `a ${ {k: `in <a.b> ${ {x: <a.c>}.x }`}.k } <a.d>`",
            [(1, "<a.b>", "template"), (1, "<a.d>", "template")],
        ),
        ("return `\n\n<a.b>`", [(3, "<a.b>", "template")]),
        ("// it's <a.b>\nreturn '<a.c>'", [(2, "<a.c>", "string")]),  # no string in comments
        ('/* "<a.b>\n` */ return <a.c>', []),
        ('return /"<a.b>/.test(s)', [(1, "<a.b>", "regex")]),
        ("const r = /['\"`]/g; return '<a.b>'", [(1, "<a.b>", "string")]),  # quotes in a class
        ("return typeof /'<a.b>/", [(1, "<a.b>", "regex")]),
        ('return a / "<a.b>" / b', [(1, "<a.b>", "string")]),  # division after a name
        ("return (1) / '<a.b>' / <a.c>", [(1, "<a.b>", "string")]),  # and after `)`
        ("return <a.n> / 2 + '<a.b>'.length / 3", [(1, "<a.b>", "string")]),
        ("return '<b>' + `<p>`", []),  # HTML: not a known root, not dotted
        ("return '<loop.index>'", [(1, "<loop.index>", "string")]),
    ],
)
def test_references_in_javascript_literals(code: str, expected: list[tuple[int, str, str]]) -> None:
    found = references_in_javascript_literals(code, {"a", "loop"})
    assert [(s.line, s.ref.text, s.where) for s in found] == expected


def test_rewrite_javascript_rewrites_code_only() -> None:
    code = "return '<a.b>' + <a.b> + `<a.c>${<a.c>}${<a.b>}` // <a.d>\n/* <a.e> */"
    source, refs = rewrite_javascript(code)
    assert source == "return '<a.b>' + __ref_0 + `<a.c>${__ref_1}${__ref_0}` // <a.d>\n/* <a.e> */"
    assert [r.text for r in refs] == ["<a.b>", "<a.c>"]
