"""References in SQL: each becomes a bind parameter, never spliced text (SPEC,
"References"); the few places no parameter can go are named instead."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from engine import sql_lexer
from engine.references import Reference, masked, parse
from engine.sql_lexer import TYPED_LITERAL_RE, Token

#: Where a reference in SQL stays text (no bind parameter can go there), by token kind.
_SQL_TEXT_ONLY = {
    "estring": "an E'…' string",
    "prefixed": "a B'…', X'…', N'…' or U&'…' literal",
    "dollar": "a dollar-quoted $$…$$ body",
    "ident": 'a quoted "…" identifier',
}


def _sql_tokens(
    sql: str, known_roots: Iterable[str] | None
) -> Iterator[tuple[Token, list[tuple[int, int, Reference]]]]:
    """Each token of ``sql`` (engine.sql_lexer) with the references inside it.

    The references are found first and masked for the lexer: their own characters
    (a `-` in `<a.b-c>`) must not open a comment or close a literal.
    """
    found = parse(sql, known_roots)
    pending = iter(found)
    ref = next(pending, None)
    for token in sql_lexer.tokens(masked(sql, found) if found else sql):
        inside = []
        while ref is not None and ref[0] < token.end:
            inside.append(ref)
            ref = next(pending, None)
        yield token, inside


def sql_text_only_references(
    sql: str, known_roots: Iterable[str] | None = None
) -> list[tuple[str, Reference]]:
    """References :func:`rewrite_sql` leaves as written, each with where it sits: it
    cannot make a bind parameter there, and splicing text is what it never does."""
    return [
        (_SQL_TEXT_ONLY[token.kind], ref)
        for token, inside in _sql_tokens(sql, known_roots)
        if token.kind in _SQL_TEXT_ONLY
        for _, _, ref in inside
    ]


def rewrite_sql(sql: str, known_roots: Iterable[str] | None = None) -> tuple[str, list[Reference]]:
    """Turn every reference in SQL into a bind parameter; never splice text
    (:func:`rewrite_sql_literals` without the literals' positions)."""
    rewritten, refs, _ = rewrite_sql_literals(sql, known_roots)
    return rewritten, refs


def rewrite_sql_literals(
    sql: str, known_roots: Iterable[str] | None = None
) -> tuple[str, list[Reference], frozenset[int]]:
    """Turn every reference in SQL into a bind parameter; never splice text.

    ``'<ref>'`` → ``$n``, ``'<ref>'::jsonb`` → ``$n::jsonb``, bare ``<ref>`` → ``$n``,
    a typed literal ``date '<ref>'`` → ``$n::date``, and a reference inside a longer
    literal ``'a-<ref>'`` → ``('a-' || coalesce($n::text, ''))`` (a null is nothing, as
    inside any text; after a type name, cast to it, a null then NULL:
    ``interval '<ref> days'`` → ``($n::text || ' days')::interval``). Literals, comments and
    dollar-quoted bodies without references are untouched, so seed-style SQL runs
    unchanged; references in comments stay as written.

    Also returned: the positions ``n`` of the parameters that stand for a whole
    untyped literal ``'<ref>'``. Such a literal has no type of its own, and where its
    position gives it none either (``jsonb_build_object('k', '<ref>')``, ``'<ref>' IS
    NULL``) PostgreSQL reads it as text; a bare ``$n`` there is refused
    (blocks._sql_literals binds it as text instead, as the literal was).
    """
    refs: list[Reference] = []
    literals: set[int] = set()

    def param(ref: Reference) -> str:
        # One parameter per occurrence, even of the same reference: PostgreSQL gives
        # a parameter one type, and `'id-<n>'` (text) with `<n>` (integer) in one
        # statement needs two.
        refs.append(ref)
        return f"${len(refs)}"

    def spliced(start: int, end: int, found: list[tuple[int, int, Reference]]) -> str:
        """sql[start:end] with each reference in ``found`` as a parameter."""
        pieces, pos = [], start
        for ref_start, ref_end, ref in found:
            pieces += [sql[pos:ref_start], param(ref)]
            pos = ref_end
        pieces.append(sql[pos:end])
        return "".join(pieces)

    out: list[str] = []
    for token, found in _sql_tokens(sql, known_roots):
        if token.kind == "code":
            out.append(spliced(token.start, token.end, found))
        elif token.kind != "quoted" or not found or not token.closed:
            out.append(sql[token.start : token.end])  # nothing in it is bound
        elif found[0][:2] == (token.start + 1, token.end - 1):
            # The whole literal: `'<ref>'`. After a type name it is a typed
            # literal, `date '<ref>'`; `date $1` would not parse: `$1::date`.
            cast = _typed_literal_cast(out)
            out.append(param(found[0][2]) + cast)
            if not cast:
                literals.add(len(refs))
        else:
            # Text around the references: `('a-' || coalesce($1::text, '') || '-b')`.
            # The text pieces keep their doubled quotes, so each is a literal as written.
            # After a type name (`interval '<n> days'`) the text is cast to it:
            # `interval (…)` would not parse.
            cast = _typed_literal_cast(out)
            pieces, pos = [], token.start + 1
            for ref_start, ref_end, ref in found:
                if ref_start > pos:
                    pieces.append("'" + sql[pos:ref_start] + "'")
                # A null is nothing, as inside any text (docs/engine.md): `||` made the
                # whole text NULL, `'order-<f.id?>'` a NULL where text said `order-`.
                # Typed, a null stays NULL: ` days` is no interval.
                text = param(ref) + "::text"
                pieces.append(text if cast else f"coalesce({text}, '')")
                pos = ref_end
            if pos < token.end - 1:
                pieces.append("'" + sql[pos : token.end - 1] + "'")
            out.append("(" + " || ".join(pieces) + ")" + cast)
    return "".join(out), refs, frozenset(literals)


def _typed_literal_cast(out: list[str]) -> str:
    """``::type`` when the SQL so far ends with the type name of a typed literal
    (``date '…'``), taken off ``out``; else ``""``."""
    before = out[-1] if out else ""
    typed = TYPED_LITERAL_RE.search(before)
    if not typed:
        return ""
    out[-1] = before[: typed.start()]
    return "::" + " ".join(typed.group(1).split())
