"""Database block: result values without a JSON type of their own come out as the text
PostgreSQL reads back, not as a Python object's repr.

A range column came out as `"<Range [1, 5)>"` (a `tstzrange` as `"<Range
[datetime.datetime(2024, 1, 1, 0, 0, tzinfo=datetime.timezone.utc), …)>"`) and a
`bit` column as `"<BitString 101>"`: nothing a later block could read, nor write back.
"""

from __future__ import annotations

from typing import Any

RANGES = """
    name: ranges
    blocks:
      start: {type: manual}
      q:
        type: database
        query: |
          SELECT int4range(1, 5) AS r, int8range(NULL, 3, '[]') AS open_lower,
                 numrange(1.5, NULL, '(]') AS open_upper, 'empty'::int4range AS e,
                 tstzrange('2024-01-01 00:00+00', '2024-02-01 00:00+00') AS tr,
                 daterange('2024-01-01', '2024-01-31', '[]') AS dr,
                 ARRAY[int4range(1, 2)] AS rs, B'101' AS bits, B'1'::varbit(4) AS vb
      back:
        type: database
        query: |
          SELECT '<q.r>'::int4range = int4range(1, 5) AS r,
                 '<q.open_lower>'::int8range = int8range(NULL, 3, '[]') AS open_lower,
                 '<q.open_upper>'::numrange = numrange(1.5, NULL, '(]') AS open_upper,
                 '<q.e>'::int4range = 'empty' AS e,
                 '<q.tr>'::tstzrange = tstzrange('2024-01-01 00:00+00', '2024-02-01 00:00+00') AS tr,
                 '<q.dr>'::daterange = daterange('2024-01-01', '2024-01-31', '[]') AS dr,
                 '<q.bits>'::bit(3) = B'101' AS bits
    edges: [start -> q, q -> back]
    """


async def test_ranges_and_bit_strings_are_postgresql_text(run_yaml: Any) -> None:
    result = await run_yaml(RANGES)
    assert result["status"] == "succeeded", result["error"]
    row = result["blocks"]["q"]["output"]["row"]
    assert row == {
        "r": "[1,5)",
        "open_lower": "(,4)",
        "open_upper": "(1.5,)",
        "e": "empty",
        "tr": "[2024-01-01T00:00:00+00:00,2024-02-01T00:00:00+00:00)",
        "dr": "[2024-01-01,2024-02-01)",
        "rs": ["[1,2)"],
        "bits": "101",
        "vb": "1",
    }
    assert set(result["output"]["row"].values()) == {True}


INFINITY = """
    name: infinity
    blocks:
      start: {type: manual}
      q:
        type: database
        query: |
          SELECT 'infinity'::timestamptz AS a, '-infinity'::timestamptz AS b,
                 'infinity'::timestamp AS c, 'infinity'::date AS d, '-infinity'::date AS e,
                 timestamptz '9999-12-31 23:59:59.999999+00' AS last
      back:
        type: database
        query: |
          SELECT '<q.a>'::timestamptz = 'infinity' AS a, '<q.b>'::timestamptz = '-infinity' AS b,
                 timestamp '<q.c>' = 'infinity' AS c, '<q.d>'::date = 'infinity' AS d,
                 '<q.e>'::date = '-infinity' AS e, '<input.until>'::timestamptz = 'infinity' AS input
    edges: [start -> q, q -> back]
    """


async def test_infinite_times_are_infinity_both_ways(run_yaml: Any) -> None:
    """`valid_to = 'infinity'` came out as "9999-12-31T23:59:59.999999" without an
    offset (and '-infinity' as year 1), asyncpg's stand-ins; "infinity" as a value
    was refused as no ISO 8601 time, where the literal it replaced is one."""
    result = await run_yaml(INFINITY, {"until": "Infinity"})
    assert result["status"] == "succeeded", result["error"]
    row = result["blocks"]["q"]["output"]["row"]
    assert row == {
        "a": "infinity",
        "b": "-infinity",
        "c": "infinity",
        "d": "infinity",
        "e": "-infinity",
        "last": "9999-12-31T23:59:59.999999+00:00",
    }
    assert set(result["output"]["row"].values()) == {True}
