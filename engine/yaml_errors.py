"""A YAML or JSON syntax error in a person's words: where, what, and — for the mistakes
newcomers make most (a tab, a line indented more or less than its neighbours, a key
without its colon, text holding ': ', an unclosed `{`) — how to write it. PyYAML's
own words ("expected <block end>, but found '<block mapping start>'") describe its
parser, not the file."""

from __future__ import annotations

import json
import re

import yaml


def syntax_error_text(exc: Exception, text: str = "") -> str:
    """A YAML or JSON syntax error as a person reads it: where, then what
    (PyYAML's own text says ``in "<unicode string>"`` twice), then how to write it
    when the line holds one of the mistakes YAML users make most (``text``: the
    source, to read that line)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
        if exc.context and exc.context_mark is not None:
            ctx = exc.context_mark
            where += f" ({exc.context} at line {ctx.line + 1}, column {ctx.column + 1})"
        lines = text.splitlines()
        at = mark.line
        if str(exc.problem).startswith("could not find expected ':'") and exc.context_mark:
            at = exc.context_mark.line  # the line read as a key: PyYAML marks the next one
        line = lines[at] if at < len(lines) else ""
        above = next((x for x in reversed(lines[:at]) if x.strip()), "")
        if exc.context and "quoted scalar" in exc.context and exc.context_mark is not None:
            return where + _quote_hint(str(exc.problem), exc.context_mark.line + 1)
        column = mark.column if at == mark.line else None
        return where + _syntax_hint(str(exc.problem), line, above, column)
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg}{_json_hint(exc)}"
    return str(exc)


#: ``<a.b?>`` unquoted in a flow mapping: YAML 1.1 (libyaml) reads ``?`` there as a
#: mapping key indicator, so ``{next: <a.b?>}`` does not parse.
_OPTIONAL_REFERENCE = re.compile(r"<[^<>\s]*\?>")


def _json_hint(exc: json.JSONDecodeError) -> str:
    """JSON's two mistakes people make most: a comma after the last item (as JavaScript
    and Python allow), and text in single quotes."""
    before = exc.doc[: exc.pos].rstrip()
    if before.endswith(",") and exc.doc[exc.pos : exc.pos + 1] in ("}", "]"):
        return "; JSON has no comma after the last item: remove it"
    if exc.doc[exc.pos : exc.pos + 1] == "'":
        return '; JSON text is in double quotes ("…"), not single ones'
    return ""


def _quote_hint(problem: str, line: int) -> str:
    """A quoted text never closed, or a backslash in double quotes (a regex, a Windows
    path) read as an escape: YAML's words name neither the fix nor the quote."""
    if problem.startswith("found unknown escape character"):
        return (
            "; inside double quotes a backslash starts an escape: write the text in single "
            "quotes, double the backslash, or put code in a block (`code: |`, lines below)"
        )
    if "end of stream" in problem or "document" in problem:
        return f"; the quote opened on line {line} is never closed"
    return ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _syntax_hint(problem: str, line: str, above: str = "", column: int | None = None) -> str:
    """How to write it, for the mistakes newcomers make most: a tab, a line indented
    more or less than its neighbours, a key without its colon, text holding ': '.
    ``above``: the last line before ``line`` that is not blank."""
    optional = _OPTIONAL_REFERENCE.search(line) if "'?'" in problem else None
    if optional:
        return f'; inside {{…}} or […] write a reference ending in ? in quotes: "{optional[0]}"'
    if "'\\t'" in problem or "'\t'" in problem:
        return "; YAML indents with spaces, never tabs: replace the tab with spaces"
    above_text = above.strip()
    if problem.startswith("expected <block end>") and column is not None and column > _indent(line):
        # Mid-line: `if: "<start.x>" == "a"`, text after a quoted value's closing quote.
        return (
            "; text follows a quoted value's closing quote: put all of the text inside the "
            'quotes (`url: "https://x/<a.id>"`); an expression needs none around its '
            'references (`if: <a.b> == "x"`)'
        )
    if problem.startswith("expected <block end>"):
        return (
            "; this line is indented less than the one above it and more than the key "
            "they belong to: lines side by side (keys, or '- ' items) start in the same column"
        )
    if problem.startswith("could not find expected ':'"):
        if above_text.endswith(("|", ">", "|-", ">-")) and _indent(line) <= _indent(above):
            key = above_text.split(":", 1)[0].lstrip("- ")
            return f"; the text of `{above_text}` goes on the lines below it, indented further than `{key}`"
        return f"; `{line.strip()}` is read as a key, which needs a colon after it: `key: value`"
    if problem.startswith("expected ',' or '}'"):
        return "; a `{` is not closed by its `}` (or a value in it holding ', ' needs quotes)"
    # `type: function` then `   code: |` one column further in: YAML reads the deeper
    # line as the rest of the text `function`, and then stumbles on its colon. Quoting
    # (the hint below) would not help: the indentation is the mistake.
    if (
        problem.startswith("mapping values are not allowed")
        and _indent(line) > _indent(above)
        and not above_text.endswith((":", "|", ">", "|-", ">-"))
    ):
        if re.fullmatch(r"[\w-]+", above_text):  # `start` alone: a key without its colon
            return f"; the line above needs a colon after its key: `{above_text}:`"
        return (
            f"; this line is indented further than the line above it (`{above_text}`), so YAML "
            "reads it as the rest of that value: start it in the same column"
        )
    if problem.startswith("mapping values are not allowed"):
        return (
            "; a value holding ': ' must be quoted, or written as a block: "
            "`key: |` with the text indented on the lines below"
        )
    return ""
