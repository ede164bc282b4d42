"""References in Python source (Function code, expressions): which sit in code,
which inside a string literal (only text there) and which in a comment (never
resolved). Python's tokenizer decides, not a regex: a quote in a comment or an
escaped quote is not a literal."""

from __future__ import annotations

import ast
import io
import itertools
import tokenize
from collections.abc import Iterable
from typing import NamedTuple

from engine.references import Reference, _as_variables, masked, parse, scanned_once


class StringReference(NamedTuple):
    """A reference written inside a Python string literal, where it is only text."""

    line: int  # 1-based, in the code as written
    ref: Reference
    fstring: bool  # in the text of an f-string (inside braces it would be code)


def rewrite_python(
    code: str, known_roots: Iterable[str] | None = None
) -> tuple[str, list[Reference]]:
    """Each reference in Python code replaced by a variable ``__ref_N`` (same
    reference, same N). One inside a string literal is text and stays as written
    (rewriting it would put the variable's *name* in the string), and so does one in
    a comment (resolving it could fail the run for a note); one inside an
    f-string's braces is code and becomes ``__ref_N``."""
    located = _scanned(code, known_roots)
    return _as_variables(code, [(s, e, r) for s, e, r, where in located if where is None])


def references_in_python_strings(
    code: str, known_roots: Iterable[str] | None = None
) -> list[StringReference]:
    """The references that sit inside string literals of Python ``code``."""
    return [
        StringReference(code.count("\n", 0, start) + 1, ref, where == "fstring")
        for start, _, ref, where in _scanned(code, known_roots)
        if where in ("string", "fstring")
    ]


def _python_references(
    code: str, known_roots: frozenset[str] | None
) -> list[tuple[int, int, Reference, str | None]]:
    """Each reference with where it sits: None in code, "string" in a string
    literal, "fstring" in the text of an f-string, "comment" in a comment."""
    found = parse(code, known_roots)
    # Masked as a same-length identifier, a reference cannot trip the tokenizer
    # (`<a.rows.0.id>` outside a string is not Python); offsets stay the same.
    located: list[tuple[int, int, Reference, str | None]] = []
    placed: set[int] = set()
    for span_start, span_end, kind in _spans(masked(code, found)):
        inside = [(s, e, r) for s, e, r in found if span_start <= s < span_end]
        placed.update(s for s, _, _ in inside)
        if kind != "fstring":
            located += [(s, e, r, kind) for s, e, r in inside]
            continue
        places = _fstring_places(
            code[span_start:span_end], [(s - span_start, e - span_start) for s, e, _ in inside]
        )
        located += [(s, e, r, where) for (s, e, r), where in zip(inside, places, strict=True)]
    located += [(s, e, r, None) for s, e, r in found if s not in placed]
    return sorted(located, key=lambda item: item[0])


def _spans(code: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every top-level string literal ("string" or "fstring")
    and comment ("comment"). Stops at a tokenizer error: the code does not compile,
    and its syntax check says why."""
    # Line offsets, the lines split exactly as tokenize reads them.
    offsets = [0, *itertools.accumulate(map(len, io.StringIO(code).readlines()))]
    spans: list[tuple[int, int, str]] = []
    depth, opened = 0, 0
    fstring_start = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+
    fstring_end = getattr(tokenize, "FSTRING_END", None)
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            start = offsets[tok.start[0] - 1] + tok.start[1]
            end = offsets[tok.end[0] - 1] + tok.end[1]
            if tok.type == fstring_start:
                depth, opened = depth + 1, start if depth == 0 else opened
            elif tok.type == fstring_end:
                depth -= 1
                if depth == 0:
                    spans.append((opened, end, "fstring"))
            elif tok.type == tokenize.COMMENT and depth == 0:
                spans.append((start, end, "comment"))
            elif tok.type == tokenize.STRING and depth == 0:
                prefix = tok.string[: len(tok.string) - len(tok.string.lstrip("rRbBuUfF"))]
                spans.append((start, end, "fstring" if "f" in prefix.lower() else "string"))
    except (tokenize.TokenError, SyntaxError):
        pass
    return spans


def _fstring_places(literal: str, refs: list[tuple[int, int]]) -> list[str | None]:
    """For each reference (offsets) in one f-string literal: None when it is in a
    replacement field's code, "fstring" in the f-string's text, "string" in a
    string literal nested inside a replacement field."""
    marks = [f"_flowyard_ref_{i}_" for i in range(len(refs))]
    text, pos, pieces = literal, 0, []
    for (start, end), mark in zip(refs, marks, strict=True):
        pieces += [text[pos:start], mark]
        pos = end
    pieces.append(text[pos:])
    try:
        tree = ast.parse("".join(pieces).strip(), mode="eval")
    except SyntaxError:
        return [None] * len(refs)  # as code, like everywhere else; compiling it fails
    places: list[str | None] = [None] * len(refs)
    text_parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for i, mark in enumerate(marks):
                if mark in node.value:
                    places[i] = "fstring" if id(node) in text_parts else "string"
    return places


_scanned = scanned_once(_python_references)
