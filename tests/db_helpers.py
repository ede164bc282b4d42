"""Small database helpers for tests that make their own tables."""

from __future__ import annotations

from engine.runtime import Runtime


async def count_rows(runtime: Runtime, table: str) -> int:
    return int(await runtime.db.pool.fetchval(f"SELECT count(*) FROM {table}"))
