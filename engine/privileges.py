"""What the database user must be allowed, checked once at start, before a command
writes anything (a token, the templates, a run): one line naming what is missing,
instead of a traceback from whichever statement met it first.

flowyard needs two kinds of rights (docs/deploy.md, "Database privileges"):

- creating tables (``CREATE`` on the schema, and owning flowyard's tables to
  migrate them): for ``flowyard db init`` and whenever a release migrates the run
  log, creates the queue's tables, or creates the templates' tables;
- reading and writing rows (``SELECT, INSERT, UPDATE, DELETE`` on the tables,
  ``USAGE`` on their sequences): for everything else. A user with only these can
  run ``serve`` and ``worker`` once the owner has run ``db init``.

``flowyard_pruned_keys`` (engine/pruned_keys.py) is read by the trigger on every
keyed run row, with the rights of the user inserting it (a plain trigger function:
EXECUTE on it is not checked when it fires), and written by retention, which never
deletes from it: a user that writes rows needs SELECT, INSERT and UPDATE on it, not
DELETE. A migration replaces that trigger function, which only its owner may.

A read-only session (``default_transaction_read_only``, a standby) can do neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from engine.migrations import SCHEMA_VERSION, recorded_version
from engine.pruned_keys import TRIGGER_FUNCTION

#: Where a command that cannot create them tells the user to turn.
_ASK_OWNER = "or run `flowyard db init` as its owner first"

#: The tables flowyard writes rows of but never deletes: what it needs on them.
_NO_DELETE = {"flowyard_pruned_keys": "SELECT, INSERT and UPDATE"}
_ROWS = "SELECT, INSERT, UPDATE and DELETE"

#: The first table or sequence of flowyard's or the queue's, visible on the search
#: path, that the user may not write (a table) or take numbers from (a sequence).
_NOT_WRITABLE = """
    SELECT c.relname, c.relkind = 'S' AS sequence FROM pg_class AS c
     WHERE pg_table_is_visible(c.oid)
       AND (c.relname LIKE 'flowyard\\_%' OR c.relname LIKE 'procrastinate\\_%')
       AND CASE c.relkind
             WHEN 'S' THEN NOT has_sequence_privilege(c.oid, 'USAGE')
             -- one by one: a list of privileges is granted when any of them is
             WHEN 'r' THEN NOT (has_table_privilege(c.oid, 'SELECT')
                                AND has_table_privilege(c.oid, 'INSERT')
                                AND has_table_privilege(c.oid, 'UPDATE')
                                AND (c.relname = ANY($1::text[])
                                     OR has_table_privilege(c.oid, 'DELETE')))
             ELSE false
           END
     ORDER BY c.relname LIMIT 1
"""

#: What a migration alters or replaces, and only its owner may: the first of
#: flowyard's tables (visible on the search path; CREATE INDEX IF NOT EXISTS, too,
#: takes the table's owner) or the pruned keys' trigger function (CREATE OR REPLACE
#: FUNCTION: engine/pruned_keys.py) the user does not own, and its owner.
_NOT_OWNED = f"""
    SELECT name, owner FROM (
        SELECT c.relname AS name, pg_get_userbyid(c.relowner) AS owner,
               pg_has_role(c.relowner, 'USAGE') AS mine
          FROM pg_class AS c
         WHERE c.relkind = 'r' AND pg_table_is_visible(c.oid)
           AND c.relname LIKE 'flowyard\\_%'
        UNION ALL
        SELECT p.proname || '()', pg_get_userbyid(p.proowner), pg_has_role(p.proowner, 'USAGE')
          FROM pg_proc AS p
         WHERE p.proname = '{TRIGGER_FUNCTION}'
           AND p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
    ) AS o
     WHERE NOT mine
     ORDER BY name = 'flowyard_runs' DESC, name LIMIT 1
"""


@dataclass(frozen=True, slots=True)
class Needs:
    """What a command is about to create: the queue's tables (``serve``, ``worker``,
    ``db init``), the templates' tables (``tables``: their names; a first ``serve``,
    ``new``, ``db init``). flowyard's own tables are always needed, and to write
    rows unless ``writes`` is False."""

    command: str
    queue: bool = False
    tables: tuple[str, ...] = ()
    writes: bool = True  # False: it only reads runs (`runs list`, `runs show`)


async def probe(conn: asyncpg.Connection, needs: Needs) -> tuple[str | None, int]:
    """Why the database user cannot do what ``needs`` says (one line, or None), and
    the schema version recorded (0 when it could not be read). A version above this
    release's is the caller's to refuse (engine/migrations.py, NewerSchema)."""
    problem = await _cannot_write(conn) if needs.writes else None
    if problem is not None:
        return problem, 0
    version = await recorded_version(conn)
    if version > SCHEMA_VERSION:
        return None, version
    return await _cannot_create(conn, needs, version), version


async def _cannot_write(conn: asyncpg.Connection) -> str | None:
    if await conn.fetchval("SELECT current_setting('transaction_read_only') = 'on'"):
        if await conn.fetchval("SELECT pg_is_in_recovery()"):
            return "the database is a read-only standby: flowyard writes its run log there"
        return (
            "the database user's transactions are read-only (default_transaction_read_only"
            " is on for it): flowyard writes its run log, so it needs a user that may write"
        )
    row = await conn.fetchrow(_NOT_WRITABLE, list(_NO_DELETE))
    if row is not None:
        rows = _NO_DELETE.get(row["relname"], _ROWS)
        what = "USAGE on sequence" if row["sequence"] else f"{rows} on"
        return (
            f"permission denied for {'sequence' if row['sequence'] else 'table'}"
            f" {row['relname']}: the database user needs {what} {row['relname']}"
            " (docs/deploy.md, 'Database privileges')"
        )
    return None


async def _cannot_create(conn: asyncpg.Connection, needs: Needs, version: int) -> str | None:
    schema = await conn.fetchval("SELECT current_schema()")
    if schema is None:
        return (
            "no schema of the database user's search_path exists: create it, or set a"
            " search_path that names one (docs/deploy.md, 'Database privileges')"
        )
    missing = await _to_create(conn, needs, version)
    if missing and not await may_create(conn):
        how = (
            "run it as the schema's owner (or grant CREATE on it)"
            if needs.command == "db init"
            else _ASK_OWNER
        )
        return (
            f"permission denied for schema {schema}: the database user needs CREATE on it"
            f" to create {_listed(missing)}, {how}"
        )
    if 0 < version < SCHEMA_VERSION:
        row = await conn.fetchrow(_NOT_OWNED)
        if row is not None:
            owned = "flowyard's tables"
            if row["name"] != "flowyard_runs":  # theirs, but not this one
                owned += f" and of {row['name']}"
            return (
                f"the database is at schema version {version}, and this flowyard migrates it"
                f" to {SCHEMA_VERSION}, which only the owner of {owned} ({row['owner']}) may:"
                " run `flowyard db init` as that user first"
            )
    return None


async def _to_create(conn: asyncpg.Connection, needs: Needs, version: int) -> list[str]:
    """What of ``needs`` is not there yet, in words."""
    missing = []
    if version == 0:
        missing.append("flowyard's tables")
    elif version < SCHEMA_VERSION:
        missing.append(f"the tables and columns of schema version {SCHEMA_VERSION}")
    if needs.queue and not await _exists(conn, "procrastinate_jobs"):
        missing.append("the queue's tables")
    for table in needs.tables:
        if not await _exists(conn, table):
            missing.append("the templates' tables")
            break
    return missing


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


async def _exists(conn: asyncpg.Connection, table: str) -> bool:
    return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table))


async def may_create(conn: asyncpg.Connection) -> bool:
    """Whether the user may create in its schema: a first ``serve`` (or ``new``) whose
    user may not leaves the templates' tables, made by ``db init``, as they are."""
    return bool(await conn.fetchval("SELECT has_schema_privilege(current_schema(), 'CREATE')"))
