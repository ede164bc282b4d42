"""Which bind parameters of a statement are items of an ``IN (…)`` list.

``x IN ($1)`` compares ``x`` with one value, whatever ``$1`` holds. A list bound
there as a ``text`` parameter becomes its JSON text (``'["a","b"]'``), which
matches no row, and a ``DELETE … WHERE id IN (<input.ids>)`` then reports success
having deleted nothing. The parameter's type cannot tell this position from
``INSERT … VALUES ('<input.doc>')`` (JSON text into a text column, which users
rely on): both are ``text``. The SQL can, read here after the engine rewrote the
references (``engine.sql_references.rewrite_sql``, ``blocks._sql.bind_named``): an item
that is a lone ``$n`` (``IN ($1)``, ``IN ('a', $2)``, ``IN ($3::text)``) is one.
"""

from __future__ import annotations

import functools
import re

from engine.sql_lexer import IDENT_CONT, tokens

#: `IN (` as a keyword (not the end of JOIN or of a name such as `login`).
_IN_OPEN_RE = re.compile(rf"(?<![{IDENT_CONT}.])IN\s*\(", re.IGNORECASE)
#: An item that is one parameter, perhaps cast: `$1`, `$2::text`, `$3::varchar(10)`.
_PARAMETER_ITEM_RE = re.compile(r"\s*\$(\d+)(?:\s*::\s*[\w.\[\]() ]+)*\s*")


def _skeleton(sql: str) -> str:
    """``sql`` with literals, quoted names and comments blanked to the same length:
    what is left is SQL proper, where ``IN``, brackets and commas mean what they say."""
    pieces = []
    for token in tokens(sql):
        text = sql[token.start : token.end]
        if token.kind == "code":
            pieces.append(text)
        elif token.kind == "comment":
            pieces.append(" " * len(text))
        else:
            pieces.append("_" * len(text))  # a value or a name, never a parameter
    return "".join(pieces)


def _items(skeleton: str, start: int) -> list[str]:
    """The top-level items of the bracketed list opening at ``start`` (just after
    its ``(``); none when it never closes."""
    items, depth, item_start = [], 0, start
    for pos in range(start, len(skeleton)):
        char = skeleton[pos]
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        elif char == ")":
            items.append(skeleton[item_start:pos])
            return items
        elif char == "," and not depth:
            items.append(skeleton[item_start:pos])
            item_start = pos + 1
    return []


@functools.lru_cache(maxsize=256)
def in_list_parameters(sql: str) -> frozenset[int]:
    """The positions ``n`` of each ``$n`` that is an item of an ``IN (…)`` list.

    A subquery (``IN (SELECT … $1)``) holds no such item: its ``$1`` is part of a
    longer item.
    """
    skeleton = _skeleton(sql)
    found: set[int] = set()
    for m in _IN_OPEN_RE.finditer(skeleton):
        for item in _items(skeleton, m.end()):
            parameter = _PARAMETER_ITEM_RE.fullmatch(item)
            if parameter:
                found.add(int(parameter.group(1)))
    return frozenset(found)
