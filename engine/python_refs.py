"""References in Python source (Function code, expressions): which sit in code and
which inside a string literal, where they are only text. Python's tokenizer
decides, not a regex: a quote in a comment or an escaped quote is not a literal."""

from __future__ import annotations

import ast
import io
import itertools
import tokenize
from collections.abc import Iterable
from typing import NamedTuple

from engine.references import Reference, _as_variables, masked, parse


class StringReference(NamedTuple):
    """A reference written inside a Python string literal, where it is only text."""

    line: int  # 1-based, in the code as written
    ref: Reference
    fstring: bool  # in the text of an f-string (inside braces it would be code)


def rewrite_python(
    code: str, known_roots: Iterable[str] | None = None
) -> tuple[str, list[Reference]]:
    """:func:`rewrite_code` for Python source: a reference inside a string literal
    is text and stays as written (rewriting it would put the variable's *name* in
    the string); one inside an f-string's braces is code and becomes ``__ref_N``."""
    located = _python_references(code, known_roots)
    return _as_variables(code, [(s, e, r) for s, e, r, where in located if where is None])


def references_in_python_strings(
    code: str, known_roots: Iterable[str] | None = None
) -> list[StringReference]:
    """The references that sit inside string literals of Python ``code``."""
    return [
        StringReference(code.count("\n", 0, start) + 1, ref, where)
        for start, _, ref, where in _python_references(code, known_roots)
        if where is not None
    ]


def _python_references(
    code: str, known_roots: Iterable[str] | None
) -> list[tuple[int, int, Reference, bool | None]]:
    """Each reference with where it sits: None in code, False in a string literal,
    True in the text of an f-string. Python's tokenizer finds the literals; a regex
    cannot tell a quote in a comment or an escaped quote from a real one."""
    found = parse(code, known_roots)
    # Masked as a same-length identifier, a reference cannot trip the tokenizer
    # (`<a.rows.0.id>` outside a string is not Python); offsets stay the same.
    spans = _string_spans(masked(code, found))
    located: list[tuple[int, int, Reference, bool | None]] = []
    for span_start, span_end, is_f in spans:
        inside = [(s, e, r) for s, e, r in found if span_start <= s < span_end]
        if not is_f:
            located += [(s, e, r, False) for s, e, r in inside]
            continue
        places = _fstring_places(
            code[span_start:span_end], [(s - span_start, e - span_start) for s, e, _ in inside]
        )
        located += [(s, e, r, where) for (s, e, r), where in zip(inside, places, strict=True)]
    in_strings = {item[0] for item in located}
    located += [(s, e, r, None) for s, e, r in found if s not in in_strings]
    return sorted(located, key=lambda item: item[0])


def _string_spans(code: str) -> list[tuple[int, int, bool]]:
    """(start, end, is an f-string) of every top-level string literal. Stops at a
    tokenizer error: the code does not compile, and its syntax check says why."""
    # Line offsets, the lines split exactly as tokenize reads them.
    offsets = [0, *itertools.accumulate(map(len, io.StringIO(code).readlines()))]
    spans: list[tuple[int, int, bool]] = []
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
                    spans.append((opened, end, True))
            elif tok.type == tokenize.STRING and depth == 0:
                prefix = tok.string[: len(tok.string) - len(tok.string.lstrip("rRbBuUfF"))]
                spans.append((start, end, "f" in prefix.lower()))
    except (tokenize.TokenError, SyntaxError):
        pass
    return spans


def _fstring_places(literal: str, refs: list[tuple[int, int]]) -> list[bool | None]:
    """For each reference (offsets) in one f-string literal: None when it is in a
    replacement field's code, True in the f-string's text, False in a string
    literal nested inside a replacement field."""
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
    places: list[bool | None] = [None] * len(refs)
    text_parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for i, mark in enumerate(marks):
                if mark in node.value:
                    places[i] = id(node) in text_parts
    return places
