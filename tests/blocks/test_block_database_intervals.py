"""Database block: an interval comes out as ISO 8601 text, as PostgreSQL writes it
with `intervalstyle = iso_8601`, and goes back in as the same interval.

It came out as a number of seconds with 1 month = 30 days and 1 year = 365 days
(asyncpg's timedelta holds no months): 12 months were not a year, and '1 mon'
written back became '30 days'."""

from __future__ import annotations

import json
from typing import Any

import pytest

INTERVALS = [
    "1 mon",
    "1 year 2 mons 3 days",
    "1.5 seconds",
    "12 mons",
    "-1 mon 2 days -03:04:05.25",
    "-0.5 seconds",
    "-1 year -1 mon",
    "4 hours 5 minutes",
    "0.000001 seconds",
    "0",
    "178000000 years",
]


def workflow(query: str, extra: str = "") -> str:
    return f"""
        name: intervals
        blocks:
          start: {{type: manual}}
          d:
            type: database
            query: {json.dumps(query)}{extra}
        edges: [start -> d]
        """


async def _table_of_intervals(pg: Any, table_name: str) -> list[str]:
    intervals = list(INTERVALS)
    if pg.get_server_version().major >= 17:  # infinite intervals are new in 17
        intervals += ["infinity", "-infinity"]
    await pg.execute(f"CREATE TABLE {table_name} (id int, wait interval)")
    await pg.executemany(
        f"INSERT INTO {table_name} VALUES ($1, $2::text::interval)", list(enumerate(intervals))
    )
    return intervals


@pytest.mark.parametrize("mode", ["runner", "transaction", "connection"])
async def test_an_interval_is_iso_8601_as_postgresql_writes_it(
    run_yaml: Any, pg: Any, table_name: str, database_url: str, mode: str
) -> None:
    await _table_of_intervals(pg, table_name)
    extra = {
        "runner": "",
        "transaction": "\n            transaction: t",
        "connection": "\n            connection: <start.db>",
    }[mode]
    sep = "&" if "?" in database_url else "?"
    result = await run_yaml(
        workflow(
            f"SELECT array_agg(wait ORDER BY id) AS waits, "
            f"array_agg(ROW(id, wait) ORDER BY id) AS pairs FROM {table_name}",
            extra,
        ),
        {"db": f"{database_url}{sep}application_name=flowyard_intervals"},
    )
    assert result["status"] == "succeeded", result["error"]
    await pg.execute("SET intervalstyle = iso_8601")
    expected = [
        r["wait"]
        for r in await pg.fetch(f"SELECT wait::text AS wait FROM {table_name} ORDER BY id")
    ]
    assert expected[:4] == ["P1M", "P1Y2M3D", "PT1.5S", "P1Y"]  # the server's own words
    out = result["output"]
    assert out["waits"] == expected
    assert [pair[1] for pair in out["pairs"]] == expected  # inside a record too


async def test_an_interval_read_goes_back_in_unchanged(
    run_yaml: Any, pg: Any, table_name: str
) -> None:
    """Each interval read, written back through a reference, is the very same
    interval (compared as text: `=` holds '1 mon' equal to '30 days')."""
    intervals = await _table_of_intervals(pg, table_name)
    read = await run_yaml(
        workflow(f"SELECT array_agg(wait ORDER BY id) AS waits FROM {table_name}")
    )
    assert read["status"] == "succeeded", read["error"]
    written = await run_yaml(
        workflow(
            f"UPDATE {table_name} SET wait = '<start.first>' WHERE id = 0 "
            "RETURNING wait::text AS wait"
        ),
        {"first": read["output"]["waits"][0]},
    )
    assert written["status"] == "succeeded", written["error"]
    assert written["output"]["wait"] == "1 mon"  # not '30 days'
    back = await run_yaml(
        workflow(
            "SELECT array_agg(w::text ORDER BY o) AS texts "
            "FROM unnest('<start.waits>'::interval[]) WITH ORDINALITY AS u(w, o)"
        ),
        {"waits": read["output"]["waits"]},
    )
    assert back["status"] == "succeeded", back["error"]
    stored = [
        r["wait"]
        for r in await pg.fetch(f"SELECT wait::text AS wait FROM {table_name} ORDER BY id")
    ]
    assert back["output"]["texts"] == stored
    assert stored[0] == "1 mon" and len(stored) == len(intervals)


@pytest.mark.parametrize(
    ("value", "expected"), [(90, "PT1M30S"), (1.5, "PT1.5S"), (86400, "P1D"), ("P1M", "P1M")]
)
async def test_an_interval_parameter_takes_seconds_or_text(
    run_yaml: Any, value: Any, expected: str
) -> None:
    """docs/blocks/database.md: a number for an interval is seconds (whole days of
    them are sent as days, as asyncpg's own encoder did); text is read by the server."""
    result = await run_yaml(workflow("SELECT '<start.v>'::interval AS out"), {"v": value})
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["out"] == expected
