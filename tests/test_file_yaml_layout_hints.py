"""A YAML layout mistake is told how to fix it: a tab, a line indented one column too
far or too little, a key without its colon, the text of `code: |` not indented, an
unclosed `{`. PyYAML said "found character '\\t' that cannot start any token" or
"expected <block end>, but found '<block mapping start>'", and for a line indented
too far the hint was to quote a value, which does not help."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

HEAD = "name: t\nblocks:\n  start:\n    type: manual\n"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "name: t\nblocks:\n  start:\n\ttype: manual\n",
            "line 4, column 1: found character '\\t' that cannot start any token; YAML "
            "indents with spaces, never tabs: replace the tab with spaces",
        ),
        (
            HEAD + "  f:\n    type: function\n     code: |\n      return 1\n",
            "line 7, column 10: mapping values are not allowed here; this line is indented "
            "further than the line above it (`type: function`), so YAML reads it as the rest "
            "of that value: start it in the same column",
        ),
        (
            HEAD + "  f:\n    type: function\n   code: return 1\n",
            "; this line is indented less than the one above it and more than the key they "
            "belong to: lines side by side (keys, or '- ' items) start in the same column",
        ),
        (
            "name: t\nblocks:\n  start\n    type: manual\n",
            "line 4, column 9: mapping values are not allowed here; the line above needs a "
            "colon after its key: `start:`",
        ),
        (
            HEAD + "  f:\n    type: function\n    code: |\n    return 1\n",
            "could not find expected ':' (while scanning a simple key at line 8, column 5); "
            "the text of `code: |` goes on the lines below it, indented further than `code`",
        ),
        (
            HEAD + '  f: {type: function, code: "return 1"\nedges: []\n',
            "; a `{` is not closed by its `}` (or a value in it holding ', ' needs quotes)",
        ),
        (
            HEAD + '  f: {type: function, code: "return re.findall(\\"\\d+\\", x)"}\n',
            "; inside double quotes a backslash starts an escape: write the text in single "
            "quotes, double the backslash, or put code in a block (`code: |`, lines below)",
        ),
        (
            'name: "t\nblocks: {}\n',
            "found unexpected end of stream (while scanning a quoted scalar at line 1, column "
            "7); the quote opened on line 1 is never closed",
        ),
        (
            HEAD + '  r:\n    type: condition\n    if: "<start.x>" == "a"\n',
            "line 7, column 21: expected <block end>, but found '<scalar>' (while parsing a "
            "block mapping at line 6, column 5); text follows a quoted value's closing quote: "
            'put all of the text inside the quotes (`url: "https://x/<a.id>"`); an expression '
            'needs none around its references (`if: <a.b> == "x"`)',
        ),
        (
            HEAD + "  f: {type: function, code: return 1}\nedges:\n  - start -> f\n    x: 1\n",
            "mapping values are not allowed here; this line is indented further than the line "
            "above it (`- start -> f`), so YAML reads it as the rest of that value: start it in "
            "the same column",
        ),
    ],
)
def test_a_layout_mistake_is_told_its_fix(tmp_path: Path, text: str, says: str) -> None:
    (found,) = problems(tmp_path, text)
    assert found.startswith(f"{tmp_path}/bad.yaml: cannot parse: "), found
    assert found.endswith(says), found


def test_text_holding_a_colon_is_still_told_to_be_quoted(tmp_path: Path) -> None:
    text = HEAD + "  f:\n    type: function\n    code: return {'a': 1}\n"
    (found,) = problems(tmp_path, text)
    assert found.endswith("`key: |` with the text indented on the lines below"), found


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            '{"name": "t", "blocks": {"start": {"type": "manual"},}}',
            "Expecting property name enclosed in double quotes; JSON has no comma after the "
            "last item: remove it",
        ),
        (
            "{'name': 't'}",
            'Expecting property name enclosed in double quotes; JSON text is in double quotes ("…"), '
            "not single ones",
        ),
    ],
)
def test_a_json_file_mistake_is_told_its_fix(tmp_path: Path, text: str, says: str) -> None:
    (found,) = problems(tmp_path, text, name="bad.json")
    assert found.endswith(says), found
