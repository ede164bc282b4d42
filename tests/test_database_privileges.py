"""A database user without the rights a command needs is told so in one line at
start, before anything is written (docs/deploy.md, "Database privileges")."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from db_helpers import new_database
from processes import cli, free_port, order_created_run, start, stop, until_healthy

from engine.migrations import SCHEMA_VERSION

ROOT = Path(__file__).resolve().parent.parent
NO_CREATE = (
    "permission denied for schema public: the database user needs CREATE on it to create"
    " flowyard's tables, the queue's tables and the templates' tables, or run `flowyard db"
    " init` as its owner first (DATABASE_URL)"
)


def _as_user(url: str, user: str, password: str) -> str:
    """``url`` with another user (and password) in it."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


async def _database_and_user(server_url: str, **settings: str) -> tuple[str, str]:
    """A new database whose schema public nobody but its owner may create in (PG15's
    default), and the URL of a new user of it, with ``settings`` (ALTER ROLE … SET);
    returns (owner's URL, user's URL)."""
    owner = await new_database(server_url, "privileges")
    user, password = f"u_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    conn = await asyncpg.connect(owner)
    try:
        await conn.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for name, value in settings.items():
            await conn.execute(f"ALTER ROLE {user} SET {name} = {value}")
    finally:
        await conn.close()
    return owner, _as_user(owner, user, password)


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    return env


async def _grant_rows(owner: str, user: str) -> None:
    """What docs/deploy.md grants a user that only reads and writes rows."""
    conn = await asyncpg.connect(owner)
    try:
        await conn.execute(
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {user};"
            f" GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {user}"
        )
    finally:
        await conn.close()


async def _exists(url: str, table: str) -> bool:
    conn = await asyncpg.connect(url)
    try:
        return bool(await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table))
    finally:
        await conn.close()


async def test_a_user_that_may_not_create_is_told_before_a_token_or_templates(
    database_url: str, tmp_path: Path
) -> None:
    """Then, once granted CREATE, the next serve is a first start: it creates the
    templates' tables (a start that had installed `workflows/` never would)."""
    owner, user = await _database_and_user(database_url)
    port = free_port()
    refused = cli(["serve", "--port", str(port)], tmp_path, _env(user))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.startswith("flowyard serve: cannot use the database at ") and line.endswith(
        NO_CREATE
    )
    assert not (tmp_path / "workflows").exists() and not (tmp_path / ".flowyard").exists()

    conn = await asyncpg.connect(owner)
    await conn.execute(f"GRANT CREATE ON SCHEMA public TO {urlsplit(user).username}")
    await conn.close()
    server = start(["serve", "--port", str(port)], _env(user), tmp_path, tmp_path / "serve.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
    finally:
        stop([server])
    assert await _exists(owner, "order_snapshots"), (tmp_path / "serve.log").read_text()


async def test_after_the_owners_db_init_a_user_that_only_writes_rows_serves(
    database_url: str, tmp_path: Path
) -> None:
    """`db init` creates the queue's tables too: a serve whose user may only read and
    write rows then starts (its queue, its resume at start) and runs an order."""
    owner, user = await _database_and_user(database_url)
    init = cli(["db", "init"], tmp_path, _env(owner))
    assert init.returncode == 0, init.stderr
    assert await _exists(owner, "procrastinate_jobs")
    await _grant_rows(owner, urlsplit(user).username or "")
    port, token = free_port(), "privileges-token"
    env = {**_env(user), "FLOWYARD_TOKEN": token}
    server = start(["serve", "--port", str(port)], env, tmp_path, tmp_path / "serve.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
            run = await order_created_run(client, token, "o-1")
            assert run["status"] == "succeeded", run
    finally:
        stop([server])


async def test_a_read_only_user_is_told_in_one_line(database_url: str, tmp_path: Path) -> None:
    owner, reader = await _database_and_user(database_url, default_transaction_read_only="on")
    assert cli(["db", "init"], tmp_path, _env(owner)).returncode == 0
    await _grant_rows(owner, urlsplit(reader).username or "")
    refused = cli(["worker"], tmp_path, _env(reader))
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.startswith("flowyard worker: cannot use the database at ") and line.endswith(
        ": the database user's transactions are read-only (default_transaction_read_only is"
        " on for it): flowyard writes its run log, so it needs a user that may write"
        " (DATABASE_URL)"
    )


async def test_a_user_that_may_not_write_a_table_is_told_which(
    database_url: str, tmp_path: Path
) -> None:
    owner, user = await _database_and_user(database_url)
    assert cli(["db", "init"], tmp_path, _env(owner)).returncode == 0
    conn = await asyncpg.connect(owner)
    await conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {urlsplit(user).username}")
    await conn.close()
    refused = cli(["worker"], tmp_path, _env(user))
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.endswith(  # the first by name; flowyard_pruned_keys is never deleted from
        ": permission denied for table flowyard_pruned_keys: the database user needs SELECT,"
        " INSERT and UPDATE on flowyard_pruned_keys (docs/deploy.md, 'Database privileges')"
        " (DATABASE_URL)"
    )
    conn = await asyncpg.connect(owner)
    await conn.execute(f"GRANT INSERT, UPDATE ON flowyard_pruned_keys TO {urlsplit(user).username}")
    await conn.close()
    refused = cli(["worker"], tmp_path, _env(user))
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.endswith(
        ": permission denied for table flowyard_run_events: the database user needs SELECT,"
        " INSERT, UPDATE and DELETE on flowyard_run_events (docs/deploy.md, 'Database"
        " privileges') (DATABASE_URL)"
    )


async def test_pruned_keys_need_no_delete_but_select_insert_and_update(
    database_url: str, tmp_path: Path
) -> None:
    """flowyard_pruned_keys is read by the trigger on every keyed run row, as the user
    inserting it, and written by retention, which never deletes from it."""
    owner, user = await _database_and_user(database_url)
    name = urlsplit(user).username or ""
    assert cli(["db", "init"], tmp_path, _env(owner)).returncode == 0
    await _grant_rows(owner, name)
    conn = await asyncpg.connect(owner)
    try:
        await conn.execute(f"REVOKE DELETE ON flowyard_pruned_keys FROM {name}")
        ran = cli(["runs", "list"], tmp_path, _env(user))
        assert ran.returncode == 0, ran.stderr
        await conn.execute(f"REVOKE SELECT ON flowyard_pruned_keys FROM {name}")
    finally:
        await conn.close()
    refused = cli(["worker"], tmp_path, _env(user))
    assert refused.returncode == 1
    [line] = refused.stderr.splitlines()
    assert line.endswith(
        ": permission denied for table flowyard_pruned_keys: the database user needs SELECT,"
        " INSERT and UPDATE on flowyard_pruned_keys (docs/deploy.md, 'Database privileges')"
        " (DATABASE_URL)"
    )


async def test_a_migration_needs_the_owner_of_the_pruned_keys_trigger_function(
    database_url: str, tmp_path: Path
) -> None:
    """A migration replaces flowyard_runs_key_not_pruned(), which only its owner may:
    owning flowyard's tables is not enough."""
    owner, user = await _database_and_user(database_url)
    name = urlsplit(user).username or ""
    assert cli(["db", "init"], tmp_path, _env(owner)).returncode == 0
    await _grant_rows(owner, name)
    conn = await asyncpg.connect(owner)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = 'public' AND tablename LIKE 'flowyard%'"
        )
        for (table,) in tables:
            await conn.execute(f"ALTER TABLE {table} OWNER TO {name}")
        function_owner = await conn.fetchval(
            "SELECT pg_get_userbyid(proowner) FROM pg_proc"
            " WHERE proname = 'flowyard_runs_key_not_pruned'"
        )
        await conn.execute(
            f"GRANT CREATE ON SCHEMA public TO {name};"
            " DELETE FROM flowyard_schema; INSERT INTO flowyard_schema VALUES (9)"
        )
    finally:
        await conn.close()
    refused = cli(["db", "init"], tmp_path, _env(user))
    assert refused.returncode == 1, refused.stderr
    [line] = refused.stderr.splitlines()
    assert line.endswith(
        f": the database is at schema version 9, and this flowyard migrates it to {SCHEMA_VERSION},"
        " which"
        " only the owner of flowyard's tables and of flowyard_runs_key_not_pruned()"
        f" ({function_owner}) may: run `flowyard db init` as that user first (DATABASE_URL)"
    )
