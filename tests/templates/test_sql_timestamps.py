"""The Database block's timestamp coercion (blocks/_sql.py) reads what RFC 3339
allows: the `T` and `Z` may be lower case (section 5.6, note on ABNF case). Python's
``datetime.fromisoformat`` refuses them, so `'<input.as_of>'::timestamptz` failed
for a value PostgreSQL itself reads. Checked against the server's own reading."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from blocks._sql import coerce


@pytest.fixture
async def conn(event_db: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(event_db)
    try:
        yield c
    finally:
        await c.close()


@pytest.mark.parametrize(
    "text",
    [
        "2030-01-02t10:00z",
        "2030-01-02t10:00:00.5z",
        "2030-01-02t10:00:00+02:00",
        "2030-01-02T10:00:00z",
        "2030-01-02t10:00:00Z",
    ],
)
async def test_lower_case_t_and_z_bind_as_the_instant_postgresql_reads(
    conn: asyncpg.Connection, text: str
) -> None:
    bound = await conn.fetchval("SELECT $1::timestamptz", coerce(text, "timestamptz"))
    assert bound == await conn.fetchval("SELECT $1::text::timestamptz", text)


async def test_lower_case_z_binds_as_a_timestamp_too(conn: asyncpg.Connection) -> None:
    text = "2030-01-02t10:00:30z"  # a timestamp ignores the zone, as PostgreSQL does
    bound = await conn.fetchval("SELECT $1::timestamp", coerce(text, "timestamp"))
    assert bound == await conn.fetchval("SELECT $1::text::timestamp", text)


@pytest.mark.parametrize("text", ["2030-13-45t99:99:99z", "2030-01-02t10:00:00+99:00", "today"])
def test_what_is_not_a_time_is_still_refused(text: str) -> None:
    with pytest.raises(ValueError):
        coerce(text, "timestamptz")
