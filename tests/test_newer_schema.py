"""A database a newer flowyard has migrated is refused, naming both schema versions.

Black-box report (UPGRADING): `engine/migrations._current` took any recorded version at
or above this release's for current and said nothing, so an older flowyard started on
a database of a newer one (rolled back after an upgrade, or one host not upgraded yet)
used tables it does not know. Every command that starts an engine now refuses it in
one line, exit 1, before writing anything; a running server's `/api/health` says it.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import pytest_asyncio
from db_helpers import new_database
from processes import cli, free_port

from engine.migrations import (
    SCHEMA_VERSION,
    NewerSchema,
    migrate,
    migrated_under_us_message,
    newer_schema_message,
)

ROOT = Path(__file__).resolve().parent.parent
NEWER = SCHEMA_VERSION + 1
TOKEN = "t" * 20


@pytest_asyncio.fixture(loop_scope="session")
async def migrated(database_url: str) -> AsyncIterator[str]:
    """A new database this release has migrated."""
    url = await new_database(database_url, "newer")
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await migrate(pool)
    finally:
        await pool.close()
    yield url


async def _record(url: str, version: int) -> None:
    """The database as a release of schema ``version`` leaves it after its start."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"INSERT INTO flowyard_schema VALUES ({version})")
    finally:
        await conn.close()


async def test_migrate_refuses_a_database_of_a_newer_schema_and_changes_nothing(
    migrated: str,
) -> None:
    await _record(migrated, NEWER)
    pool = await asyncpg.create_pool(migrated, min_size=1, max_size=2)
    try:
        with pytest.raises(NewerSchema) as refused:
            await migrate(pool)
        assert refused.value.found == NEWER
        assert str(refused.value) == (
            f"the database is at schema version {NEWER}, newer than this flowyard's"
            f" ({SCHEMA_VERSION}): a newer flowyard release has migrated it, and this one"
            " cannot use its tables. Run the newer release (or a later one) on it; nothing"
            " was changed"
        )
        versions = await pool.fetch("SELECT version FROM flowyard_schema ORDER BY version")
        assert [r["version"] for r in versions] == [SCHEMA_VERSION, NEWER]
    finally:
        await pool.close()


def _flowyard(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    for name in ("FLOWYARD_TOKEN", "FLOWYARD_WORKFLOWS"):
        env.pop(name, None)
    return cli(args, cwd, env)


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "PORT"],
        ["serve", "--port", "PORT", "--engine-process"],
        ["worker"],
        ["engine"],
        ["run", "hello.yaml"],
        ["runs"],
        ["db", "init"],
        ["new", "order_processing"],
    ],
    ids=" ".join,
)
async def test_every_command_refuses_a_database_of_a_newer_schema_in_one_line(
    migrated: str, tmp_path: Path, args: list[str]
) -> None:
    await _record(migrated, NEWER)
    (tmp_path / "hello.yaml").write_text(
        "version: 1\nname: hello\nblocks:\n  start: {type: manual}\n"
    )
    args = [str(free_port()) if a == "PORT" else a for a in args]
    done = _flowyard(args, tmp_path, migrated)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr == f"flowyard {args[0]}: {newer_schema_message(NEWER)}\n"
    assert done.stdout == ""
    # Nothing written: no templates installed or copied, no token generated.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hello.yaml"]


def test_health_says_a_newer_release_has_migrated_the_database_and_runs_may_fail(
    migrated: str, tmp_path: Path
) -> None:
    import asyncio

    import blocks  # noqa: F401
    from engine.runtime import Runtime
    from ui.app import UIConfig, create_app
    from ui.bridge import EngineBridge
    from ui.server import make_server

    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "hello.yaml").write_text(
        "version: 1\nname: hello\nblocks:\n  start: {type: manual}\n"
    )
    rt = Runtime(tmp_path / "workflows", migrated, tmp_path, function_workers=1, resume=False)
    bridge = EngineBridge(rt).start()
    cfg = UIConfig(bridge, TOKEN, "k" * 20, tmp_path / "workflows", max_body=1024 * 1024)
    server = make_server(create_app(cfg), "127.0.0.1", 0)
    threading.Thread(target=server.run, name="waitress-test", daemon=True).start()
    health = f"http://127.0.0.1:{server.effective_port}/api/health"
    try:
        assert httpx.get(health, timeout=30).json() == {"status": "ok", "database": "ok"}
        # A newer release starts on the database (an upgrade while this one runs).
        asyncio.run(_record(migrated, NEWER))
        resp = httpx.get(health, timeout=30)
        assert resp.status_code == 503
        assert resp.json() == {
            "status": "degraded",
            "database": "newer_schema",
            "error": migrated_under_us_message(NEWER),
        }
        # It said "nothing was changed" while this server went on accepting and running.
        assert "nothing was changed" not in resp.json()["error"]
        # A version that changed nothing this server's statements need: it accepts.
        runs = f"http://127.0.0.1:{server.effective_port}/api/workflows/hello/runs"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(runs, json={}, headers=headers, timeout=30).status_code == 202
        # One that did, as version 8 did to version 7's servers (report: every keyed
        # delivery a 500 while its health said it "still accepts deliveries and runs
        # them"): the unique index its accepting statement's ON CONFLICT names is
        # replaced. Every run it accepts fails, and its health does not say otherwise.
        asyncio.run(_replace_the_key_index(migrated))
        assert httpx.post(runs, json={}, headers=headers, timeout=30).status_code == 500
        said = httpx.get(health, timeout=30).json()["error"]
        assert said == migrated_under_us_message(NEWER)
        assert "still accepts" not in said and "may fail (a 500)" in said
    finally:
        server.close()
        bridge.stop()


async def _replace_the_key_index(url: str) -> None:
    """What a newer release's migration may do: a unique index on other columns."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "DROP INDEX flowyard_runs_idempotency_scoped;"
            "CREATE UNIQUE INDEX flowyard_runs_idempotency_newer ON flowyard_runs"
            " (workflow, key_scope, trigger, idempotency_key) WHERE idempotency_key IS NOT NULL"
        )
    finally:
        await conn.close()
