"""Database Query block: one SQL statement on PostgreSQL, references bound as parameters.

``query`` is a raw key: its references are never resolved into text. They are
rewritten once into ``$n`` bind parameters (``engine.sql_references.rewrite_sql``), and
each run binds the referenced values, coerced to the type the server infers for
each position (see ``blocks._sql``). Seed-style SQL such as
``WHERE aggregate_id = '<function.order_id>'`` therefore runs unchanged and a value
like ``'; DROP TABLE x; --`` is stored as the text it is.

``transaction: NAME`` runs the block on the run's connection for group NAME (see
``engine.transactions``): a ``SELECT … FOR UPDATE`` in one block keeps its lock until
the last block of the group settles.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, ClassVar

import asyncpg

from blocks._sql import (
    CoercionError,
    ServerCast,
    bind_named,
    cast_from_text,
    coerce_all,
    named_placeholders,
    statement_count,
)
from blocks._sql_connection import DatabaseConnectionError, acquired, block_pool
from blocks._sql_copy import copy_stream_problem
from blocks._sql_errors import DatabaseError, DuplicateColumns, ReservedColumns
from blocks._sql_in_lists import in_list_parameters
from blocks._sql_literals import prepare_literals
from blocks._sql_messages import (
    argument_error,
    scrub,
)
from blocks._sql_results import (
    duplicated_columns,
    output_field_columns,
    row_count_from_status,
)
from blocks._sql_rows import read_rows
from blocks._sql_transaction_control import transaction_control_problem
from engine.context import BlockContext
from engine.model import BlockModel, Problem, Workflow
from engine.references import Reference, resolve
from engine.registry import BlockHandler, register
from engine.sql_references import rewrite_sql, rewrite_sql_literals, sql_text_only_references

#: SQLSTATE active_sql_transaction: "… cannot run inside a transaction block".
_IN_A_TRANSACTION_BLOCK = "25001"


async def _prepare(conn: Any, sql: str) -> Any:
    """A prepared statement from the connection's statement cache.

    ``Connection.prepare`` always round-trips (Parse/Describe) and a PreparedStatement
    cannot outlive a pool acquisition, so reusing asyncpg's own per-connection LRU
    cache (``_prepare(use_cache=True)``, what ``fetch`` uses internally) makes a
    repeated query cost one round trip, as a plain ``conn.fetch`` would.
    """
    inner = getattr(conn, "_prepare", None)
    if inner is not None:
        try:
            return await inner(sql, use_cache=True)
        except TypeError:  # a future asyncpg without the keyword
            pass
    return await conn.prepare(sql)


@register
class DatabaseBlock(BlockHandler):
    type = "database"
    category = "action"
    description = "Run one SQL statement on PostgreSQL; references become bind parameters."
    credential_fields = ("connection",)
    config_schema: ClassVar[dict[str, Any]] = {
        "query": {
            "type": "string",
            "description": "One SQL statement; <refs> become $n parameters.",
        },
        "params": {
            "type": ["object", "array"],
            "description": "Extra parameters: a mapping used as :name, or a list used as $1, $2…",
        },
        "connection": {
            "type": "string",
            "description": "PostgreSQL URL (or a reference such as <env.OTHER_DB>); default the runner's database.",
        },
        "transaction": {
            "type": "string",
            "minLength": 1,  # "" read as no group: each statement committed alone
            "description": "Transaction group: blocks of one run with the same name share one transaction.",
        },
    }
    required = ("query",)
    raw_keys = frozenset({"query"})
    outputs = ("rows", "row_count", "row")
    side_effects = True
    # A committed statement would be applied again: nothing tells PostgreSQL it is
    # a repeat (and a SELECT may call functions that write, or take nextval()).
    repeatable = False

    def __init__(self, block: BlockModel) -> None:
        super().__init__(block)
        self._rewritten: tuple[str, list[Reference], frozenset[int]] | None = None
        # What each statement became once its untyped quoted literals were bound as
        # text (blocks._sql_literals).
        self._literal_sql: dict[str, str] = {}
        # DESIGN 4: a member of a transaction group changes nothing outside the run
        # until the group commits, so the executor need not checkpoint the run log
        # before it. That also keeps the log's flush from needing a pool connection
        # while the group's connections hold row locks (with as many concurrent
        # groups as pool connections, that wait would never end).
        self.side_effects = not block.config.get("transaction")

    def problems(self) -> list[Problem]:
        # Every problem, not the first: each check is said whatever the others find.
        query = self.config.get("query")
        found = self._query_problems(query) if isinstance(query, str) else []
        params = self.config.get("params")
        if isinstance(params, list) and isinstance(query, str) and "<" in query:
            if rewrite_sql(query)[1]:
                message = (
                    "a list of params (used as $1, $2…) cannot be mixed with references in the "
                    "query; use a mapping of params (used as :name) instead"
                )
                found.append(Problem(message, block=self.block.id, field="params"))
        if self.config.get("transaction") and self.config.get("connection"):
            message = (
                "a transaction group runs on the runner's database; `connection` cannot be "
                "used with `transaction` (remove one of them)"
            )
            found.append(Problem(message, block=self.block.id, field="connection"))
        return found

    def _query_problems(self, query: str) -> list[Problem]:
        """What is wrong with the query's text: each problem, once it holds a statement."""
        if not query.strip() or statement_count(query) == 0:
            # Only blanks, semicolons or comments: nothing PostgreSQL would run.
            return [Problem("the query is empty", block=self.block.id, field="query")]
        messages = []
        if (count := statement_count(query)) > 1:
            # PostgreSQL refuses several commands in one prepared statement: say so
            # now, not when a run reaches the block.
            messages.append(
                f"the query holds {count} statements; a Database block runs one "
                "(one block per statement, sharing a `transaction` if they must "
                "commit together)"
            )
        group = self.config.get("transaction")
        if control := transaction_control_problem(
            query, group if isinstance(group, str) and group else None
        ):
            messages.append(control)
        if copy := copy_stream_problem(query):
            messages.append(copy)
        if "<" in query:
            messages += [
                f"{ref.text} is inside {where}, where it cannot become a bind parameter "
                f"(and is never spliced in as text): write it outside, e.g. E'\\n' || {ref.text}"
                for where, ref in sql_text_only_references(query)
            ]
        if ":" in query:
            messages += self._missing_params(query)
        return [Problem(m, block=self.block.id, field="query") for m in messages]

    def _missing_params(self, query: str) -> list[str]:
        """Why each ``:name`` placeholder without a value in ``params`` has none.

        PostgreSQL has no use for ``:name`` outside a subscript: left in, it fails
        every run with `syntax error at or near ":"`. ``params`` given as a
        reference is known at run time only.
        """
        params = self.config.get("params")
        if params is not None and not isinstance(params, (dict, list)):
            return []
        names = params if isinstance(params, dict) else {}
        missing: list[str] = []
        for _, _, name, in_subscript in named_placeholders(rewrite_sql(query)[0]):
            said = f":{name} is a named placeholder, but "
            if in_subscript or name in names or any(m.startswith(said) for m in missing):
                continue
            if params is None:
                missing.append(said + f"the block has no `params` (add `params: {{{name}: …}}`)")
            elif isinstance(params, list):
                missing.append(said + "`params` is a list (used as $1, $2…); make it a mapping")
            else:
                missing.append(said + f"`params` has no {name!r}")
        return missing

    def rewritten(self, known_roots: Any) -> tuple[str, list[Reference], frozenset[int]]:
        """The query with references as ``$n``, computed once per loaded workflow, and
        the positions of its untyped quoted literals."""
        if self._rewritten is None:
            self._rewritten = rewrite_sql_literals(str(self.config["query"]), known_roots)
        return self._rewritten

    async def run(self, ctx: BlockContext, config: dict[str, Any]) -> dict[str, Any]:
        sql, refs, _ = self.rewritten(ctx.run.plan.known_roots)
        values = [resolve(ref, ctx.frame) for ref in refs]
        labels = [ref.text for ref in refs]
        params = config.get("params")
        if isinstance(params, dict) and params:
            sql, names = bind_named(sql, params, len(refs) + 1)
            values += [params[n] for n in names]
            labels += [f":{n}" for n in names]
        elif isinstance(params, list):
            values += params
            labels += [f"${i + 1}" for i in range(len(refs), len(refs) + len(params))]
        # Recorded as the block's input; the engine redacts <env.…> values in it.
        ctx.inputs = {"sql": sql, "params": values}
        # Errors quote no row's values when a parameter holds a secret (from_postgres).
        secrets = ctx.run.secrets

        group = config.get("transaction")
        url = config.get("connection") or None
        if self.came_out_empty("connection", config):
            # `<env.ORDERS_DATABASE_URL>` set but empty, `<input.db?>` with no value:
            # not "no connection" (a literal "" still is). Read so, the statement ran
            # on the runner's own database in its place (an INSERT meant for the
            # orders database went into flowyard's). Retried, it comes out empty again.
            error = DatabaseConnectionError(
                "cannot use the database of `connection`: `connection` is empty"
                f" ({self.config['connection']}"
                " has no value), so the statement was not run (never on the runner's"
                " database in its place)"
            )
            error.retriable = False
            raise error
        db = ctx.services.db
        if group:
            if url and url != db.url:
                raise DatabaseError(
                    "a transaction group runs on the runner's database; remove `connection` "
                    "or `transaction`",
                    sql,
                )
            async with ctx.transaction(str(group)) as conn:
                if not self._may_go_on_after_failing(ctx.run.plan.workflow):
                    return await self._execute(conn, sql, values, labels, secrets)
                # A savepoint: a failed or timed-out attempt is undone on its own (even
                # if the server completed it), leaving the group's transaction usable
                # for the retry or the blocks after a handled error, never applied twice.
                async with conn.transaction():
                    return await self._execute(conn, sql, values, labels, secrets)
        pool = await block_pool(db, url)
        async with acquired(pool, url or db.url, own=not url) as conn:
            if not self.block.retries:
                return await self._execute(conn, sql, values, labels, secrets)
            return await self._execute_alone(conn, sql, values, labels, secrets)

    def _may_go_on_after_failing(self, workflow: Workflow) -> bool:
        """Whether the run may go on after an attempt of this block fails: its own
        `retries` or `on_error: continue`, or the `on_error: continue` of a loop or
        parallel around it, which goes on without the failed iteration or branch (and
        so does the group, which commits the rest). A container's `retries` cannot
        hold a Database block (engine.validate_graph.container_problems)."""
        if self.block.retries:
            return True
        around = [workflow.blocks[c] for c in workflow.containers_of(self.block.id)]
        return any(b.on_error == "continue" for b in (self.block, *around))

    async def _execute_alone(
        self, conn: Any, sql: str, values: list[Any], labels: list[str], secrets: Collection[str]
    ) -> dict[str, Any]:
        """One attempt of a block that may be retried, in a transaction of its own: an
        attempt that timed out after the server completed its statement is rolled
        back, so the retry does not apply it a second time."""
        try:
            async with conn.transaction():
                return await self._execute(conn, sql, values, labels, secrets)
        except DatabaseError as exc:
            if exc.sqlstate != _IN_A_TRANSACTION_BLOCK:
                raise
        # VACUUM, CREATE INDEX CONCURRENTLY and the like cannot run in a transaction.
        return await self._execute(conn, sql, values, labels, secrets)

    def _statement_limit(self) -> float | None:
        """The client-side limit of the statement: the pool's (None: STATEMENT_LIMIT),
        or with a block `timeout`, a second past it, so that a timeout over the pool's
        limit applies, and the engine's own timer strikes first and says "timed out
        after N s"."""
        timeout = self.block.timeout
        return None if timeout is None else timeout + 1

    async def _execute(
        self, conn: Any, sql: str, values: list[Any], labels: list[str], secrets: Collection[str]
    ) -> dict[str, Any]:
        types: list[Any] = []
        literals = self._rewritten[2] if self._rewritten else frozenset()
        try:
            sql, stmt = await prepare_literals(conn, sql, literals, _prepare, self._literal_sql)
            types = list(stmt.get_parameters())
            if len(types) != len(values):
                raise DatabaseError(
                    f"the statement has {len(types)} parameter(s) but {len(values)} value(s) "
                    "were given",
                    sql,
                )
            args = coerce_all(values, types, labels, in_list_parameters(sql))
            casts = {i + 1: types[i] for i, a in enumerate(args) if isinstance(a, ServerCast)}
            if casts:
                # Text only the server reads ('{1,2}' for an int4[]): bound as text and
                # cast there, so it means what the literal would.
                # (Errors still name the type the server inferred, kept in `types`.)
                sql = cast_from_text(sql, casts)
                stmt = await _prepare(conn, sql)
                args = [str(a) if isinstance(a, ServerCast) else a for a in args]
            # Checked before the statement runs: an INSERT … RETURNING refused after
            # running would have written its rows all the same.
            columns = [a.name for a in stmt.get_attributes()]
            if repeated := duplicated_columns(columns):
                raise DuplicateColumns(repeated, sql)
            if hidden := output_field_columns(columns, self.outputs):
                raise ReservedColumns(hidden, self.outputs, sql)
            if columns:  # a result: read in chunks, within what a run record keeps
                rows = await read_rows(conn, stmt, args, self._statement_limit(), sql)
                count = len(rows)  # RETURNING gives a row for each row affected
            else:  # nothing to read (and VACUUM and the like refuse a transaction)
                await stmt.fetch(*args, timeout=self._statement_limit())
                rows, count = [], row_count_from_status(stmt.get_statusmsg(), 0)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # asyncpg's own refusal of a value quotes it: say which parameter instead.
            refused = argument_error(str(exc), values, types, labels)
            if refused is not None:
                raise DatabaseError(refused, sql, getattr(exc, "sqlstate", None)) from None
            if isinstance(exc, asyncpg.PostgresError):
                raise DatabaseError.from_postgres(exc, sql, values, labels, secrets) from None
            # Other client-side errors may quote a value too: scrub it.
            raise DatabaseError(scrub(str(exc), values), sql) from None
        except CoercionError as exc:
            raise DatabaseError(str(exc), sql) from None
        first = rows[0] if rows else None
        return {**(first or {}), "rows": rows, "row_count": count, "row": first}
