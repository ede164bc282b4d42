"""References in JavaScript Function code: which sit in code and which inside a
string, a template literal's text or a regular expression literal, where they are
only text. The counterpart of engine.python_refs, with a small scanner in place of
Python's tokenizer (V8 exposes no token stream).

It knows '…' and "…" strings with escapes; template literals, whose `${…}` is code
again and may hold braces, strings and template literals to any depth; // and /* */
comments; regex literals with [...] classes (a `/` or quote in one does not end it).

Its limits, in code that is rare in a Function body:
- A `/` starts a regex when the previous significant token lets an expression start
  (punctuation other than `)` and `]`, a keyword such as `return`, or the start);
  otherwise it is division. So `a++ / b / c` reads as a regex, and
  `if (x) /re/.test(s)` as division.
- No JSX, no HTML comments (`<!--`), no `#!` line, no Unicode escapes in names.
- An unclosed string or regex ends at its line's end, an unclosed template or
  comment at the code's end; V8's syntax check reports them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from engine.references import Reference, _as_variables, masked, parse, scanned_once

# After these words an expression starts, so a `/` there opens a regex.
_KEYWORDS = frozenset(
    "return typeof instanceof in of new delete void throw case do else yield await".split()
)
_WORD = re.compile(r"[\w$]*")  # a name, number or keyword; a regex's flags
_VALUE_ENDED = ")"  # `prev` after a literal: a `/` there is division, as after `)`


class LiteralReference(NamedTuple):
    """A reference written inside a JavaScript literal, where it is only text."""

    line: int  # 1-based, in the code as written
    ref: Reference
    where: str  # "string", "template" (a template literal's text) or "regex"


def rewrite_javascript(
    code: str, known_roots: Iterable[str] | None = None
) -> tuple[str, list[Reference]]:
    """:func:`engine.python_refs.rewrite_python` for JavaScript: only a reference in
    code becomes ``__ref_N``; one in a literal or a comment stays as written, so a
    comment is never resolved (a reference it mentions cannot fail the run)."""
    located = _scanned(code, known_roots)
    return _as_variables(code, [(s, e, r) for s, e, r, where in located if where is None])


def references_in_javascript_literals(
    code: str, known_roots: Iterable[str] | None = None
) -> list[LiteralReference]:
    """The references that sit inside string, template or regex literals of ``code``."""
    return [
        LiteralReference(code.count("\n", 0, start) + 1, ref, where)
        for start, _, ref, where in _scanned(code, known_roots)
        if where not in (None, "comment")
    ]


def _located(
    code: str, known_roots: frozenset[str] | None
) -> list[tuple[int, int, Reference, str | None]]:
    """Each reference with where it sits: None in code, else the kind of its span."""
    found = parse(code, known_roots)
    # Masked as a same-length name, a reference reads as a value (a `/` after it is
    # division) and its `<` `>` are not operators; offsets stay the same.
    spans = _spans(masked(code, found))
    return [(s, e, r, next((k for a, b, k in spans if a <= s < b), None)) for s, e, r in found]


def _spans(code: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of each comment and literal text in ``code``; kind is
    "comment", "string", "template" (its text, not its `${…}`) or "regex"."""
    spans: list[tuple[int, int, str]] = []
    braces: list[bool] = []  # one per open `{`: True when it is a template's `${`
    prev = ""  # the previous significant token, to tell a regex from division
    i = 0
    while i < len(code):
        c, start = code[i], i
        if c.isspace():
            i += 1
        elif code.startswith(("//", "/*"), i):
            close = "\n" if code[i + 1] == "/" else "*/"  # a line comment keeps its \n
            end = code.find(close, i + 2)
            i = len(code) if end < 0 else end + (0 if close == "\n" else 2)
            spans.append((start, i, "comment"))
        elif c == "`" or (c == "}" and braces and braces[-1]):
            if c == "}":
                braces.pop()  # the end of a `${…}`: the template's text goes on
            i, opened = _template_text(code, i + 1)
            spans.append((start, i, "template"))
            braces += [True] if opened else []
            prev = "{" if opened else _VALUE_ENDED
        elif c in "'\"" or (c == "/" and _expression_may_start(prev)):
            i = _quoted(code, i + 1, c)
            i = _word_end(code, i) if c == "/" else i  # a regex's flags
            spans.append((start, i, "regex" if c == "/" else "string"))
            prev = _VALUE_ENDED
        elif c.isalnum() or c in "_$":
            i = _word_end(code, i)
            prev = code[start:i]
        else:
            if c == "{":
                braces.append(False)
            elif c == "}" and braces:
                braces.pop()
            prev, i = c, i + 1
    return spans


def _expression_may_start(prev: str) -> bool:
    """Whether a `/` after ``prev`` opens a regex: at the start, after a keyword or
    after punctuation other than `)` and `]`; after a name, number or literal, no."""
    if not prev or prev in _KEYWORDS:
        return True
    return not (prev[0].isalnum() or prev[0] in "_$)]")


def _word_end(code: str, i: int) -> int:
    match = _WORD.match(code, i)
    return match.end() if match else i


def _template_text(code: str, i: int) -> tuple[int, bool]:
    """From just inside a template's text: (end, True) past a `${`, or (end, False)
    past the closing backtick (or at the end of the code)."""
    while i < len(code):
        if code[i] == "\\":
            i += 2
        elif code[i] == "`":
            return i + 1, False
        elif code.startswith("${", i):
            return i + 2, True
        else:
            i += 1
    return len(code), False


def _quoted(code: str, i: int, quote: str) -> int:
    """The end of a string or regex body from ``i``: past its closing quote, or at
    the end of the line when it is not closed there."""
    in_class = False  # inside a regex's [...], where `/` does not end it
    while i < len(code) and code[i] != "\n":
        c, i = code[i], i + (2 if code[i] == "\\" else 1)
        if quote == "/" and c in "[]":
            in_class = c == "["
        elif c == quote and not in_class:
            return i
    return min(i, len(code))


_scanned = scanned_once(_located)
