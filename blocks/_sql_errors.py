"""What a failed Database block says: the server's words with the SQL, never a
parameter's value (blocks/database.py raises these)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import asyncpg

from blocks._sql_messages import (
    holds_secret,
    scrub,
    untyped_parameter,
    without_quoted_values,
    without_row_values,
)


class DatabaseError(RuntimeError):
    """A failed statement: the server's message, SQLSTATE and the SQL with ``$n`` positions.

    Parameter values are never part of the message (they may be secrets); a server
    detail that quotes one has it replaced by ``…``, and one quoting a row's values
    is left out when a parameter holds one of the run's ``secrets``: SQL may have made
    a value of it that is neither.
    """

    def __init__(self, message: str, sql: str, sqlstate: str | None = None) -> None:
        self.sql = sql
        self.sqlstate = sqlstate
        code = f" [SQLSTATE {sqlstate}]" if sqlstate else ""
        super().__init__(f"{message}{code}\nSQL: {sql}")

    @classmethod
    def from_postgres(
        cls,
        exc: asyncpg.PostgresError,
        sql: str,
        values: list[Any],
        labels: list[str],
        secrets: Collection[str] = (),
    ) -> DatabaseError:
        # Asked here, on the error's path: a statement that succeeds pays nothing for it.
        secret = holds_secret(values, secrets)
        # The message itself may quote a value too, not only the detail.
        message = scrub(str(getattr(exc, "message", None) or exc), values, quoted=True)
        # A data exception (class 22) quotes the value it refused; others quote names.
        values_quoted = secret and str(getattr(exc, "sqlstate", "") or "").startswith("22")
        if values_quoted:
            message = without_quoted_values(message)
        parts = [untyped_parameter(message, labels) or message]
        detail = getattr(exc, "detail", None)
        if detail:
            shown = without_row_values(detail) if secret else detail
            parts.append(f"Detail: {scrub(shown, values)}")
        hint = getattr(exc, "hint", None)
        if hint:
            hint = scrub(hint, values, quoted=True)
            parts.append(f"Hint: {without_quoted_values(hint) if values_quoted else hint}")
        return cls("\n".join(parts), sql, getattr(exc, "sqlstate", None))


class DuplicateColumns(DatabaseError):
    """A result with two columns of one name: refused before the statement runs, since
    its rows (objects keyed by column name) would silently keep only the last of them."""

    retriable = False  # the same statement gives the same columns

    def __init__(self, names: list[str], sql: str) -> None:
        quoted = ", ".join(repr(n) for n in names)
        super().__init__(
            f"the result has more than one column named {quoted}; a row keeps one value "
            "per name, so the others would be lost: give each column its own name with "
            "an alias (e.g. SELECT o.id AS order_id, c.id AS customer_id)",
            sql,
        )


class ReservedColumns(DatabaseError):
    """A result column named like one of the block's own output fields: refused before
    the statement runs, since the field would hide it at the top level of the output."""

    retriable = False  # the same statement gives the same columns

    def __init__(self, names: list[str], fields: tuple[str, ...], sql: str) -> None:
        one = len(names) == 1
        quoted = ", ".join(repr(n) for n in names)
        super().__init__(
            f"the result has {'a column' if one else 'columns'} named {quoted}, like the "
            f"block's own output fields ({', '.join(fields)}), which would hide "
            f"{'it' if one else 'them'} at the top level of the output: give "
            f"{'it' if one else 'each'} another name with an alias (e.g. SELECT count(*) AS n)",
            sql,
        )
