"""`COPY … FROM STDIN` and `COPY … TO STDOUT`, refused in a Database block.

The block sends one statement and reads rows; it has no data to stream in and no
reader for a copy stream out. `COPY … FROM STDIN` left the server waiting for data
for good: the block's `timeout` and the pool's statement limit struck, but the
connection stayed inside the COPY, so the run never ended. `COPY … TO STDOUT`
succeeded with no rows, its data dropped.
"""

from __future__ import annotations

import re

from engine.sql_lexer import code_pieces, leading_words

_STREAM_RE = re.compile(r"(?<![\w$])(STDIN|STDOUT)(?![\w$])", re.IGNORECASE)


def copy_stream_problem(query: str) -> str | None:
    """Why ``query`` may not run in a Database block, if it is a COPY from or to the
    client; None otherwise (a COPY from or to a file or program on the server runs)."""
    if leading_words(query, 1) != ("COPY",):
        return None
    for start, end in code_pieces(query):
        if found := _STREAM_RE.search(query, start, end):
            if found.group(1).upper() == "STDIN":
                return (
                    "`COPY … FROM STDIN` waits for data a Database block never sends (the "
                    "statement would hold its connection for good): insert the rows with "
                    "INSERT … VALUES or INSERT … SELECT, e.g. from jsonb_to_recordset(<ref>)"
                )
            return (
                "`COPY … TO STDOUT` streams data a Database block does not read (it would "
                "succeed with no rows): SELECT the rows instead"
            )
    return None
