"""Small database helpers for tests that make their own tables or databases."""

from __future__ import annotations

import uuid

import asyncpg

from engine.runtime import Runtime


async def count_rows(runtime: Runtime, table: str) -> int:
    return int(await runtime.db.pool.fetchval(f"SELECT count(*) FROM {table}"))


async def new_database(server_url: str, prefix: str = "t") -> str:
    """The URL of a new, empty database on the server ``server_url`` points at."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, query = server_url.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")
