"""The two kinds of pooled connection (engine/database.py makes the pools): what
each leaves behind when it goes back to its pool."""

from __future__ import annotations

import asyncpg


class RunLogConnection(asyncpg.Connection):
    """A connection of the run-log pool: only flowyard's own statements run on it,
    and none of them leaves session state behind (its locks and settings are
    transaction-scoped). So releasing one skips asyncpg's reset query, a round
    trip that cost about five per run. Database blocks run user SQL, which may
    SET or LISTEN, so their pool keeps the reset."""

    def get_reset_query(self) -> str:
        return ""


class BlockConnection(asyncpg.Connection):
    """A connection of a pool that runs Database blocks' SQL. Released, it is reset
    as a fresh session: asyncpg's ``RESET ALL`` leaves the session user (``SET
    SESSION AUTHORIZATION``), the role (``SET ROLE``), temporary tables and
    ``currval`` in place, so one run's ``SET ROLE tenant`` made every later statement
    on that connection, of any run, run as ``tenant`` (and a temporary table made the
    next ``CREATE TEMP TABLE`` fail). ``DISCARD ALL`` would also drop asyncpg's
    prepared statements, which the connection keeps in its statement cache."""

    def get_reset_query(self) -> str:
        if self._reset_query is None:
            reset = super().get_reset_query()
            if self._server_caps.sql_reset:  # PostgreSQL, not a look-alike (CockroachDB)
                # First: the session's own user again, whose rights the rest needs.
                reset = (
                    "SET SESSION AUTHORIZATION DEFAULT;\nRESET ROLE;\n"
                    f"{reset}\nDISCARD TEMP;\nDISCARD SEQUENCES;"
                )
            self._reset_query = reset
        return self._reset_query
