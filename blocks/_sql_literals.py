"""A quoted reference ``'<ref>'`` where PostgreSQL cannot tell its type.

A literal ``'x'`` has no type of its own: where its position gives it none
(``jsonb_build_object('k', 'x')``, ``concat('x', …)``, ``format('%s', 'x')``,
``'x' IS NULL``) PostgreSQL reads it as text. The ``$n`` it was rewritten into is
refused there ("could not determine data type of parameter $n"), so seed-style SQL
failed where the literal ran. Such a parameter is bound as ``$n::text`` instead:
what the literal meant. A bare ``<ref>`` is no literal and keeps asking for a cast.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

import asyncpg

from engine.sql_lexer import IDENT_CONT, code_pieces

_UNTYPED_RE = re.compile(r"could not determine data type of parameter \$(\d+)")
_POSITIONAL_RE = re.compile(rf"(?<![{IDENT_CONT}])\$(\d+)")


def as_text(sql: str, positions: Collection[int]) -> str:
    """``sql`` with each parameter ``$n`` of ``positions`` (in SQL proper) as ``$n::text``."""
    pieces, pos = [], 0
    for start, end in code_pieces(sql):
        for m in _POSITIONAL_RE.finditer(sql, start, end):
            if int(m.group(1)) in positions:
                pieces += [sql[pos : m.end()], "::text"]
                pos = m.end()
    pieces.append(sql[pos:])
    return "".join(pieces)


async def prepare_literals(
    conn: Any,
    sql: str,
    literals: Collection[int],
    prepare: Callable[[Any, str], Awaitable[Any]],
    known: MutableMapping[str, str],
) -> tuple[str, Any]:
    """``(the SQL prepared, the statement)``: ``sql``, or it with the quoted literals
    PostgreSQL could not type bound as text.

    ``known`` (the block's) remembers what a statement became, so the refusal is met
    once. Until then, in a transaction the statement is prepared under a savepoint:
    the refusal must not abort the transaction of the run's group.
    """
    if sql in known or not literals:
        final = known.get(sql, sql)
        return final, await prepare(conn, final)
    cast: set[int] = set()
    attempt = sql
    while True:
        try:
            if conn.is_in_transaction():
                async with conn.transaction():
                    stmt = await prepare(conn, attempt)
            else:
                stmt = await prepare(conn, attempt)
        except asyncpg.IndeterminateDatatypeError as exc:
            m = _UNTYPED_RE.search(str(exc))
            position = int(m.group(1)) if m else 0
            if position not in literals or position in cast:
                raise
            cast.add(position)
            attempt = as_text(sql, cast)
            continue
        known[sql] = attempt
        return attempt, stmt
