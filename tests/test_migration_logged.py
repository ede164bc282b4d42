"""An upgrade of the database is said before it starts and when it is done.

Black-box report (UPGRADING): the 6 -> 7 migration rewrites the run log's columns,
holding the tables locked (about 6 s for 3M run events), and `serve`, `worker` and
`db init` sat silent meanwhile. Each command now logs a line before a migration and
one when it is done, with the time it took, through its own logging; a new
database's tables and a database already at this version say nothing.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from db_helpers import new_database
from processes import cli, free_port, start, stop

from engine.migrations import SCHEMA_VERSION, migrate

ROOT = Path(__file__).resolve().parent.parent
WAS = SCHEMA_VERSION - 1
BEFORE = (
    f"migrating the database from schema version {WAS} to {SCHEMA_VERSION}: flowyard's"
    " run-log tables are locked until it is done, and this may take a while with a large"
    " run log (docs/deploy.md, Upgrading)"
)
DONE = re.compile(
    rf"migrated the database from schema version {WAS} to {SCHEMA_VERSION} in \d+\.\d s"
)


@pytest_asyncio.fixture(loop_scope="session")
async def earlier(database_url: str) -> AsyncIterator[str]:
    """A database whose run log the previous schema version recorded."""
    url = await new_database(database_url, "upgrade")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await migrate(pool)
        await pool.execute(
            f"DELETE FROM flowyard_schema; INSERT INTO flowyard_schema VALUES ({WAS})"
        )
    finally:
        await pool.close()
    yield url


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    for name in ("FLOWYARD_TOKEN", "FLOWYARD_WORKFLOWS"):
        env.pop(name, None)
    return env


def test_db_init_says_it_migrates_and_when_it_is_done(earlier: str, tmp_path: Path) -> None:
    done = cli(["db", "init"], tmp_path, _env(earlier))
    assert done.returncode == 0, done.stderr
    before, after = done.stderr.splitlines()  # no logging set up: the message alone
    assert before == BEFORE
    assert DONE.fullmatch(after), after
    # Migrated once: the next start finds the database current, and says nothing.
    again = cli(["db", "init"], tmp_path, _env(earlier))
    assert again.returncode == 0 and again.stderr == ""


def test_run_says_it_through_its_warning_lines(earlier: str, tmp_path: Path) -> None:
    (tmp_path / "hello.yaml").write_text(
        "version: 1\nname: hello\nblocks:\n  start: {type: manual}\n"
    )
    done = cli(["run", "hello.yaml"], tmp_path, _env(earlier))
    assert done.returncode == 0, done.stderr
    before, after = done.stderr.splitlines()
    assert before == f"WARNING flowyard.migrations: {BEFORE}"
    assert DONE.fullmatch(after.removeprefix("WARNING flowyard.migrations: ")), after


async def test_a_new_database_is_made_without_a_word(database_url: str, tmp_path: Path) -> None:
    done = cli(["db", "init"], tmp_path, _env(await new_database(database_url, "fresh")))
    assert done.returncode == 0 and done.stderr == "", done.stderr


def _until_logged(log: Path, pattern: re.Pattern[str]) -> list[str]:
    """The log's lines once one of them matches (a guard of 60 s, so that a process
    that never says it fails the test instead of hanging it)."""
    for _ in range(600):
        lines = log.read_text(encoding="utf-8").splitlines()
        if any(pattern.search(line) for line in lines):
            return lines
        time.sleep(0.1)
    raise AssertionError(f"never logged {pattern.pattern!r}:\n{log.read_text()}")


@pytest.mark.parametrize(
    "args", [["serve", "--port", "PORT"], ["worker"]], ids=lambda args: args[0]
)
def test_serve_and_worker_log_it_as_their_other_lines(
    earlier: str, tmp_path: Path, args: list[str]
) -> None:
    args = [str(free_port()) if a == "PORT" else a for a in args]
    log = tmp_path / "out.log"
    (tmp_path / "workflows").mkdir()  # no templates installed: only the migration
    proc = start([*args, "--log-format", "json"], _env(earlier), tmp_path, log)
    try:
        lines = _until_logged(log, DONE)
    finally:
        stop([proc])
    records = [json.loads(line) for line in lines if line.startswith("{")]
    said = [(r["level"], r["logger"], r["message"]) for r in records]
    before = said.index(("warning", "flowyard.migrations", BEFORE))
    level, logger, message = said[before + 1]
    assert (level, logger) == ("warning", "flowyard.migrations")
    assert DONE.fullmatch(message), message
