"""Where SQL text is not code: PostgreSQL's lexical rules for literals, quoted
identifiers, comments and dollar-quoted bodies.

A reference, a ``:name`` placeholder, a ``$n`` or a ``;`` inside one of those is
text, not SQL. Several readers of a Database block's query ask that question
(``engine.sql_references.rewrite_sql``, ``blocks._sql``); they must agree with the
server's own lexer (``src/backend/parser/scan.l``), or a reference that validation
took for text is sent as a parameter the statement does not have, or the reverse.
Rules followed here that simple patterns get wrong:

- block comments nest: ``/* a /* b */ still a comment */``;
- a dollar-quote tag is an identifier without ``$`` (letters, digits after the
  first character, ``_``, any non-ASCII character): ``$a1$ … $a1$``;
- identifiers may hold ``$`` and digits, so ``a$b$`` is one name (no dollar quote
  starts there) and ``abcE'x'`` is the name ``abcE`` then the literal ``'x'``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

#: What may follow the first character of an unquoted identifier (scan.l ident_cont).
IDENT_CONT = "A-Za-z0-9_$\x80-\U0010ffff"
_TAG = "(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?"

# Where a literal, identifier, comment or dollar quote opens. A prefix letter or a
# `$` right after an identifier character belongs to that identifier.
_OPEN_RE = re.compile(
    rf"""
    (?<![{IDENT_CONT}]) (?P<estring>[Ee]')
    | (?<![{IDENT_CONT}]) (?P<prefixed>(?:[BbXxNn]|[Uu]&)')
    | (?<![{IDENT_CONT}]) (?P<uident>[Uu]&")
    | (?P<quoted>')
    | (?P<ident>")
    | (?P<line>--)
    | (?P<block>/\*)
    | (?<![{IDENT_CONT}]) (?P<dollar>\$(?P<tag>{_TAG})\$)
    """,
    re.VERBOSE,
)

# The rest of each kind after its opening, up to and including its close.
_REST = {
    "estring": re.compile(r"(?:[^'\\]|\\.|'')*+'", re.DOTALL),
    "prefixed": re.compile(r"(?:[^']|'')*+'"),
    "quoted": re.compile(r"(?:[^']|'')*+'"),
    "ident": re.compile(r'(?:[^"]|"")*+"'),
}
_COMMENT_EDGE_RE = re.compile(r"/\*|\*/")
_NEWLINE_RE = re.compile(r"[\n\r]")


#: A type name written before a string literal (`date '2024-01-15'`, `interval '1 day'`).
#: docs/blocks/database.md lists them; keep the two in step.
TYPED_LITERAL_TYPES = (
    "date",
    *("time", "timetz", "time with time zone", "time without time zone"),
    *("timestamp", "timestamptz", "timestamp with time zone", "timestamp without time zone"),
    *("interval", "uuid", "json", "jsonb", "bytea", "inet", "cidr", "boolean", "bool"),
    *("numeric", "decimal", "real", "double precision", "float4", "float8"),
    *("smallint", "integer", "int", "bigint", "int2", "int4", "int8"),
    *("text", "varchar", "character varying"),
)
TYPED_LITERAL_RE = re.compile(
    r"(?<![\w.$])("
    + "|".join(t.replace(" ", r"\s+") for t in sorted(TYPED_LITERAL_TYPES, key=len, reverse=True))
    + r")\s+$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Token:
    """A piece of SQL text.

    ``kind``: ``code`` (SQL proper), ``quoted`` ('…'), ``estring`` (E'…'),
    ``prefixed`` (B'…', X'…', N'…', U&'…'), ``ident`` ("…", U&"…"), ``comment``,
    ``dollar`` ($tag$…$tag$). ``closed`` is False for one the text ends inside
    (PostgreSQL refuses the statement; nothing in it is read as SQL here either).
    """

    kind: str
    start: int
    end: int
    closed: bool = True


@functools.lru_cache(maxsize=512)
def tokens(sql: str) -> tuple[Token, ...]:
    """``sql`` cut into tokens that cover it whole, in order."""
    out: list[Token] = []
    pos = 0
    while (m := _OPEN_RE.search(sql, pos)) is not None:
        if m.start() > pos:
            out.append(Token("code", pos, m.start()))
        kind = str(m.lastgroup)  # the outer group: it closes after `tag`
        end, closed = _close(sql, kind, m)
        out.append(Token(_KIND.get(kind, kind), m.start(), end, closed))
        pos = end
    if pos < len(sql):
        out.append(Token("code", pos, len(sql)))
    return tuple(out)


_KIND = {"uident": "ident", "line": "comment", "block": "comment"}


def _close(sql: str, kind: str, opened: re.Match[str]) -> tuple[int, bool]:
    """Where the token opened by ``opened`` ends, and whether it was closed."""
    start = opened.end()
    if kind in ("estring", "prefixed", "quoted", "ident", "uident"):
        rest = _REST["ident" if kind == "uident" else kind].match(sql, start)
        return (rest.end(), True) if rest else (len(sql), False)
    if kind == "line":
        newline = _NEWLINE_RE.search(sql, start)
        return (newline.start(), True) if newline else (len(sql), True)
    if kind == "block":
        depth = 1
        for edge in _COMMENT_EDGE_RE.finditer(sql, start):
            depth += 1 if edge.group() == "/*" else -1
            if depth == 0:
                return edge.end(), True
        return len(sql), False
    # dollar: the body ends at the first `$tag$` with the very same tag
    delimiter = opened.group("dollar")
    found = sql.find(delimiter, start)
    return (found + len(delimiter), True) if found >= 0 else (len(sql), False)


_LEADING_WORD_RE = re.compile(rf"\s*([A-Za-z_\x80-\U0010ffff][{IDENT_CONT}]*)")
_BEFORE_THE_FIRST_WORD_RE = re.compile(r"[\s;]*")


def leading_words(sql: str, count: int = 3) -> tuple[str, ...]:
    """The first ``count`` words of ``sql``, upper-cased, comments skipped: what
    statement it is (``("ROLLBACK", "TO", "SAVEPOINT")``). Fewer when a literal, a
    quoted name or punctuation comes first; blanks and ``;`` before the first word
    are skipped, as the server skips empty statements."""
    words: list[str] = []
    for token in tokens(sql):
        if token.kind == "comment":
            continue
        if token.kind != "code":
            break
        pos = token.start
        if not words and (blank := _BEFORE_THE_FIRST_WORD_RE.match(sql, pos, token.end)):
            pos = blank.end()
        while len(words) < count and (word := _LEADING_WORD_RE.match(sql, pos, token.end)):
            words.append(word.group(1).upper())
            pos = word.end()
        if len(words) >= count or sql[pos : token.end].strip():
            break  # a comment may separate words; anything else ends them
    return tuple(words)


def code_pieces(sql: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each piece of ``sql`` that is SQL proper."""
    for token in tokens(sql):
        if token.kind == "code":
            yield token.start, token.end
