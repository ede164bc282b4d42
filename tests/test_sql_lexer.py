"""engine.sql_lexer against PostgreSQL's own lexer: what is a literal, an identifier,
a comment or a dollar-quoted body, so that references, `:name` placeholders and `;`
inside one are left alone exactly where the server would read text."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from engine.sql_lexer import leading_words, tokens
from engine.sql_references import rewrite_sql, sql_text_only_references


def kinds(sql: str) -> list[tuple[str, str]]:
    return [(t.kind, sql[t.start : t.end]) for t in tokens(sql) if t.kind != "code"]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # A dollar-quote tag holds digits after its first character.
        ("SELECT $a1$ x $a1$", [("dollar", "$a1$ x $a1$")]),
        ("SELECT $_9$ $a$ $_9$", [("dollar", "$_9$ $a$ $_9$")]),
        # Block comments nest.
        ("/* a /* b */ 'c' */ d", [("comment", "/* a /* b */ 'c' */")]),
        ("/**/ '/*'", [("comment", "/**/"), ("quoted", "'/*'")]),
        # `$` and digits belong to identifiers: no dollar quote, no E'' prefix there.
        ("SELECT 1 AS a$b$, 'x'", [("quoted", "'x'")]),
        ("SELECT abcE'x'", [("quoted", "'x'")]),
        (
            "SELECT E'it\\'s', U&\"d\", N'n'",
            [("estring", "E'it\\'s'"), ("ident", 'U&"d"'), ("prefixed", "N'n'")],
        ),
        ("'it''s' -- c\n", [("quoted", "'it''s'"), ("comment", "-- c")]),
    ],
)
def test_tokens_follow_postgresql(sql: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(sql) == expected


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("commit", ("COMMIT",)),
        ("/* a /* b */ */ rollback -- c\n to s", ("ROLLBACK", "TO", "S")),
        (" ;; end work", ("END", "WORK")),
        ("ROLLBACK/**/PREPARED 'x'", ("ROLLBACK", "PREPARED")),
        ("SELECT 'COMMIT'", ("SELECT",)),
        ('"commit"', ()),
        ("-- only a comment", ()),
    ],
)
def test_leading_words_skip_comments_and_stop_at_anything_else(
    sql: str, words: tuple[str, ...]
) -> None:
    assert leading_words(sql) == words


def test_text_ending_inside_a_token_is_that_token_unclosed() -> None:
    for sql in ("SELECT 'x", "SELECT /* a /* b */", "SELECT $q$ x", 'SELECT "x'):
        *_, last = tokens(sql)
        assert last.kind != "code" and not last.closed and last.end == len(sql)


@pytest.mark.parametrize(
    ("sql", "where"),
    [
        ("SELECT $a1$ <f.s> $a1$", "a dollar-quoted $$…$$ body"),
        ("SELECT $x_2$<f.s>$x_2$", "a dollar-quoted $$…$$ body"),
    ],
)
def test_a_reference_in_a_dollar_quote_with_digits_is_text_only(sql: str, where: str) -> None:
    """The tag pattern took letters only: the reference became `$1` inside the
    body, and the run failed on "0 parameter(s) but 1 value(s)"."""
    assert [(w, r.text) for w, r in sql_text_only_references(sql)] == [(where, "<f.s>")]
    assert rewrite_sql(sql) == (sql, [])


def test_a_reference_in_a_nested_comment_stays_as_written() -> None:
    sql = "SELECT /* a /* b */ '<f.s>' */ 1, '<f.t>'"
    assert rewrite_sql(sql)[0] == "SELECT /* a /* b */ '<f.s>' */ 1, $1"


def test_a_reference_whose_path_holds_dashes_opens_no_comment() -> None:
    assert rewrite_sql("SELECT <f.a--b>, '<f.c>'")[0] == "SELECT $1, $2"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT $a1$ x $a1$ AS t, $1::int AS n",
        "SELECT /* a /* b */ $2 */ $1::int AS n",
        "SELECT 'it''s' AS t, $1::int AS n -- $2",
        "SELECT 1 AS a$b$, $1::int AS n",
    ],
)
async def test_the_server_sees_the_parameters_the_lexer_sees(database_url: str, sql: str) -> None:
    """The server's own reading, for every case above: one parameter, in code."""
    conn: Any = await asyncpg.connect(database_url)
    try:
        assert len((await conn.prepare(sql)).get_parameters()) == 1
    finally:
        await conn.close()
    code = "".join(sql[t.start : t.end] for t in tokens(sql) if t.kind == "code")
    assert code.count("$1") == 1 and "$2" not in code
