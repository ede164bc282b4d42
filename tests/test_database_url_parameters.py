"""DATABASE_URL's query parameters mean the same to both drivers (asyncpg for the
run log, psycopg for procrastinate's queue), and one neither can use is refused at
start in one line naming why (engine/url_parameters.py)."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import httpx
import pytest
from db_helpers import new_database
from processes import cli, free_port, order_created_run, start, stop, until_healthy

from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    return env


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


async def _database_with_schema(server_url: str, schema: str) -> str:
    url = await new_database(server_url, "url_parameters")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
    finally:
        await conn.close()
    return url


async def test_search_path_reaches_the_queue_too(
    database_url: str, workspace: Path, monkeypatch, tmp_path: Path
) -> None:
    """procrastinate's psycopg pool refused `search_path` at every connection, and
    its tables were looked for where asyncpg had not made them."""
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")
    url = _with_query(await _database_with_schema(database_url, "app"), "search_path=app")
    rt = Runtime(workspace / "workflows", url, workspace, function_workers=1, resume=False,
                 queue=True, local=False)  # fmt: skip
    await rt.start()
    try:
        assert rt.queue is not None
        row = await rt.queue.app.connector.execute_query_one_async(
            "SELECT current_setting('search_path') AS path,"
            " to_regclass('procrastinate_jobs')::text AS jobs"
        )
        assert row == {"path": "app", "jobs": "procrastinate_jobs"}
        assert await rt.db.log_pool.fetchval("SELECT to_regclass('app.flowyard_runs')::text")
    finally:
        await rt.close()


async def test_serve_with_search_path_and_connect_timeout_runs_an_order(
    database_url: str, tmp_path: Path
) -> None:
    """What the review did: `?search_path=app` (and `connect_timeout`, a libpq
    parameter asyncpg sent to the server as a setting) on a new workspace."""
    url = await _database_with_schema(database_url, "app")
    env = _env(_with_query(url, "search_path=app&connect_timeout=10"))
    port, token = free_port(), "url-parameters-token"
    env["FLOWYARD_TOKEN"] = token
    server = start(["serve", "--port", str(port)], env, tmp_path, tmp_path / "serve.log")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
            run = await order_created_run(client, token, "o-1")
            assert run["status"] == "succeeded", run
    finally:
        stop([server])
    log = (tmp_path / "serve.log").read_text()
    assert "invalid URI query parameter" not in log and "Traceback" not in log, log
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT to_regclass('app.order_snapshots')::text")
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        (
            "statement_timeout=5000",
            "the query parameter 'statement_timeout' is not one flowyard passes on to both of"
            " its drivers (asyncpg, psycopg): use host, port, dbname, user, password,",
        ),
        (
            "sslmode=bogus",
            "sslmode 'bogus' is not one of disable, allow, prefer, require, verify-ca,"
            " verify-full (DATABASE_URL)",
        ),
        ("port=99999", "its port is not a number from 1 to 65535 (DATABASE_URL)"),
        ("connect_timeout=soon", "connect_timeout 'soon' is not a whole number of seconds"),
    ],
)
def test_a_parameter_or_value_one_driver_cannot_take_is_one_line(
    database_url: str, tmp_path: Path, query: str, reason: str
) -> None:
    for command in (["runs"], ["db", "init"]):
        done = cli(command, tmp_path, _env(_with_query(database_url, query)))
        assert done.returncode == 1, done.stdout + done.stderr
        [line] = done.stderr.splitlines()
        assert line.startswith(f"flowyard {command[0]}: cannot use the database at ")
        assert f": {reason}" in line


def test_a_port_out_of_range_in_the_host_part_is_named(tmp_path: Path) -> None:
    done = cli(["runs"], tmp_path, _env("postgresql://flowyard:pw@db.invalid:99999/flowyard"))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "flowyard runs: cannot use the database at the URL given: its port is not a number"
        " from 1 to 65535 (DATABASE_URL)"
    ]
