"""A reference inside a Python string literal (Function code, expressions) is text,
not code: the engine never rewrites it into the variable's name, and validation
refuses it with a pointer to f-strings and concatenation. A reference inside an
f-string's braces is code, as anywhere else."""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Any

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine import python_refs
from engine.expressions import Expression
from engine.python_refs import references_in_python_strings, rewrite_python

ROOT = Path(__file__).resolve().parent.parent
BASE = "name: t\nblocks:\n  start: {type: manual}\n"


def one(tmp_path: Path, text: str) -> str:
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def function(code: str) -> str:
    body = "".join(f"      {line}\n" for line in code.splitlines())
    return BASE + f"  f:\n    type: function\n    code: |\n{body}edges: [start -> f]\n"


# -- validation ------------------------------------------------------------------------


def test_a_reference_in_a_string_literal_of_function_code_is_refused(tmp_path: Path) -> None:
    msg = one(tmp_path, function('x = 1\nreturn "<input.s>" + "|" + <input.s>'))
    assert "bad.yaml" in msg and "block 'f'" in msg and "field 'code'" in msg
    assert "<input.s>" in msg and "line 2" in msg and "string literal" in msg
    assert 'f"…{<input.s>}…"' in msg  # the way to write it


def test_a_reference_in_the_text_of_an_fstring_is_refused(tmp_path: Path) -> None:
    msg = one(tmp_path, function('return f"s=<input.s> n={<input.n>}"'))
    assert "<input.s>" in msg and "<input.n>" not in msg and "braces" in msg


def test_every_reference_in_strings_is_reported(tmp_path: Path) -> None:
    found = problems(tmp_path, function("return ['<input.a>', b'<input.b>', '''\n<input.c>''']"))
    assert len(found) == 3, found
    assert "line 1" in found[0] and "line 1" in found[1] and "line 2" in found[2]


def test_a_reference_in_a_string_of_an_expression_is_refused(tmp_path: Path) -> None:
    text = BASE + "  c: {type: condition, if: '<start.s> == \"<start.s>\"'}\nedges: [start -> c]\n"
    msg = one(tmp_path, text)
    assert "block 'c'" in msg and "field 'if'" in msg and "string literal" in msg


def test_html_and_comments_in_function_code_are_not_references(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(function('# reads <input.s>\nreturn "<b>" + <input.s> + "</b>"'))
    from engine.model import load_file

    load_file(path)


def test_a_comment_may_mention_a_block_that_is_not_upstream(tmp_path: Path) -> None:
    text = BASE + (
        "  f:\n    type: function\n    code: |\n"
        "      # was <later.total> before the split\n      return 1\n"
        "  later: {type: function, code: return 2}\n"
        "edges: [start -> f, f -> later]\n"
    )
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    from engine.model import load_file

    load_file(path)


async def test_a_reference_in_a_python_comment_is_never_resolved(run_yaml) -> None:
    wf = """
    name: comments
    blocks:
      start: {type: manual}
      f:
        type: function
        code: |
          # was `<start.gone>`: a comment is not resolved, so a missing field is no error
          x = <start.s>  # and <start.also_gone> after code
          return x
    edges: [start -> f]
    """
    result = await run_yaml(wf, {"s": "hi"})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"result": "hi"}
    assert result["blocks"]["f"]["output"] == {"result": "hi"}


def test_rewrite_python_leaves_comments_alone() -> None:
    source, refs = rewrite_python("# <a.b> '\nreturn <a.c>  # <a.d>")
    assert source == "# <a.b> '\nreturn __ref_0  # <a.d>"
    assert [r.text for r in refs] == ["<a.c>"]


async def test_function_code_reads_references_in_fstring_braces_and_code(run_yaml) -> None:
    wf = """
    name: fstrings
    blocks:
      start: {type: manual}
      f:
        type: function
        code: |
          return f"{<start.s>}|{<start.n> + 1:03d}|" + <start.s> + "<b>"
    edges: [start -> f]
    """
    result = await run_yaml(wf, {"s": "hi", "n": 1})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"result": "hi|002|hi<b>"}


# -- the scanner -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('return "<a.b>" + <a.b>', [(1, "<a.b>", False)]),
        ("return f'{<a.b>}'", []),
        ("return f'x <a.b> {<a.c>}'", [(1, "<a.b>", True)]),
        ("return f\"{d['<a.b>']}\"", [(1, "<a.b>", False)]),  # a string inside the braces
        ("return rb'<a.b>' + F'''\n\n<a.c>'''", [(1, "<a.b>", False), (3, "<a.c>", True)]),
        ("# <a.b>\nreturn <a.b>", []),
        ("return '<b>' + '<p>'", []),  # HTML: not a known root, not dotted
        ("return '<loop.index>'", [(1, "<loop.index>", False)]),
        ("return '''unterminated <a.b>", []),  # a syntax error: the syntax check says it
    ],
)
def test_references_in_python_strings(code: str, expected: list[tuple[int, str, bool]]) -> None:
    found = references_in_python_strings(code, {"a", "loop"})
    assert [(s.line, s.ref.text, s.fstring) for s in found] == expected


def test_rewrite_python_leaves_string_literals_alone() -> None:
    code = "return '<a.b>' + <a.b> + f'<a.c>{<a.c>}{<a.b>!r}' + <a.c>"
    source, refs = rewrite_python(code)
    assert source == "return '<a.b>' + __ref_0 + f'<a.c>{__ref_1}{__ref_0!r}' + __ref_1"
    assert [r.text for r in refs] == ["<a.b>", "<a.c>"]


def test_an_expression_keeps_text_in_quotes_as_text() -> None:
    class Scope:
        def lookup(self, root: str) -> Any:
            return {"html": "<p><b>x</b></p>", "s": "hi"}

        def note_secret(self, value: Any) -> None:
            pass

    assert Expression('"<b>" in <a.html>').evaluate(Scope()) is True
    assert Expression('f"{<a.s>}!" == "hi!"').evaluate(Scope()) is True


def _other_python() -> str | None:
    """An interpreter whose tokenizer reads f-strings the other way: 3.12 splits an
    f-string into FSTRING_START/MIDDLE/END tokens, 3.11 keeps one STRING token."""
    name = "python3.12" if sys.version_info < (3, 12) else "python3.11"
    found = [
        shutil.which(name),
        *glob.glob(f"{Path.home()}/.pyenv/versions/{name[6:]}*/bin/{name}"),
    ]
    for exe in filter(None, found):
        probe = subprocess.run([exe, "-c", "pass"], capture_output=True, timeout=30)
        if probe.returncode == 0:  # a pyenv shim without that version fails here
            return exe
    return None


#: Code whose f-string holds a reference in its text, one in code and one in a nested
#: string literal, followed by a plain string: what each tokenizer must agree on.
FSTRING_CASE = """return f'x <a.b> {<a.c>} {d["<a.d>"]}' + '<a.e>'"""
FSTRING_FOUND = [(1, "<a.b>", True), (1, "<a.d>", False), (1, "<a.e>", False)]
FSTRING_REWRITTEN = """return f'x <a.b> {__ref_0} {d["<a.d>"]}' + '<a.e>'"""


def _as_312_tokens(real):
    """tokenize.generate_tokens as Python 3.12 splits f-strings: FSTRING_START … END
    around their parts (what the scanner reads of them) instead of one STRING."""

    def generate(readline):
        for tok in real(readline):
            prefix = tok.string[: len(tok.string) - len(tok.string.lstrip("rRbBuUfF"))]
            if tok.type != tokenize.STRING or "f" not in prefix.lower():
                yield tok
                continue
            (row, col), end = tok.start, tok.end
            head = len(prefix) + 1  # the prefix and the opening quote
            yield tokenize.TokenInfo(60, tok.string[:head], (row, col), (row, col + head), tok.line)
            yield tokenize.TokenInfo(62, tok.string[-1], (end[0], end[1] - 1), end, tok.line)

    return generate


def test_the_scanner_reads_fstrings_the_same_with_either_tokenizer(monkeypatch) -> None:
    """3.11 keeps an f-string one STRING token, 3.12 splits it: the same references
    are found either way (CI's Python has one of them; the other is replayed)."""
    found = [(s.line, s.ref.text, s.fstring) for s in references_in_python_strings(FSTRING_CASE)]
    assert found == FSTRING_FOUND
    assert rewrite_python(FSTRING_CASE)[0] == FSTRING_REWRITTEN
    if not hasattr(tokenize, "FSTRING_START"):  # replay 3.12's tokens on this Python
        monkeypatch.setattr(tokenize, "FSTRING_START", 60, raising=False)
        monkeypatch.setattr(tokenize, "FSTRING_END", 62, raising=False)
        monkeypatch.setattr(tokenize, "generate_tokens", _as_312_tokens(tokenize.generate_tokens))
        python_refs._scanned.cache_clear()  # scanned again, with these tokens
        again = [
            (s.line, s.ref.text, s.fstring) for s in references_in_python_strings(FSTRING_CASE)
        ]
        assert again == FSTRING_FOUND
        assert rewrite_python(FSTRING_CASE)[0] == FSTRING_REWRITTEN
    other = _other_python()
    if other is not None:  # and the real other tokenizer, where one is installed
        code = (
            "from engine.python_refs import references_in_python_strings as f, rewrite_python as r\n"
            f"c = {FSTRING_CASE!r}\n"
            "print([(s.line, s.ref.text, s.fstring) for s in f(c)], r(c)[0])\n"
        )
        done = subprocess.run(
            [other, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{FSTRING_FOUND} {FSTRING_REWRITTEN}"
