"""Shared fixtures: one embedded PostgreSQL and one Runtime for the whole session.

Set DATABASE_URL to run the suite against another PostgreSQL instead.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from db_helpers import new_database
from relay import Relay, relay_to

import blocks  # noqa: F401 - registers the block types
from engine._loop import new_event_loop
from engine.model import Workflow, load_file
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
TEST_WORKSPACE = Path(os.environ.get("FLOWYARD_TEST_WORKSPACE", "/tmp/flowyard-test-workspace"))


@pytest.fixture(scope="session")
def workspace() -> Path:
    """A workspace whose `.flowyard/pgdata` holds the tests' embedded PostgreSQL."""
    (TEST_WORKSPACE / "workflows").mkdir(parents=True, exist_ok=True)
    return TEST_WORKSPACE


@pytest.fixture(scope="session")
def database_url(workspace: Path) -> str:
    from engine.database import resolve_url

    return resolve_url(workspace, os.environ.get("DATABASE_URL"))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def runtime(workspace: Path, database_url: str) -> AsyncIterator[Runtime]:
    rt = Runtime(workspace / "workflows", database_url, workspace, function_workers=2, resume=False)
    await rt.start()
    yield rt
    await rt.close()


@pytest.fixture
def write_workflow(tmp_path: Path) -> Callable[[str], Workflow]:
    """Write YAML text to a file (so errors name it) and load it."""

    def write(text: str, name: str | None = None) -> Workflow:
        path = tmp_path / f"{name or 'wf_' + uuid.uuid4().hex[:8]}.yaml"
        path.write_text(textwrap.dedent(text))
        return load_file(path)

    return write


@pytest.fixture
def run_yaml(
    runtime: Runtime, write_workflow: Callable[[str], Workflow]
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Run a workflow given as YAML text; returns the run result."""

    async def run(text: str, input: dict[str, Any] | None = None) -> dict[str, Any]:
        return await runtime.execute(write_workflow(text), input or {})

    return run


@pytest_asyncio.fixture(loop_scope="session")
async def table(runtime: Runtime) -> AsyncIterator[str]:
    """A fresh table name for a test's own rows; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    yield name
    await runtime.db.pool.execute(f"DROP TABLE IF EXISTS {name} CASCADE")


@pytest.fixture
def relayed_url(database_url: str) -> Iterator[tuple[str, str, Relay]]:
    """(a new database's URL, the same through a relay the test can cut, the relay)."""
    direct = asyncio.run(new_database(database_url, "relayed"))
    through, relay = relay_to(direct)
    yield direct, through, relay
    relay.cut(missing_ok=True)


@pytest_asyncio.fixture(loop_scope="session")
async def relayed_runtime(
    relayed_url: tuple[str, str, Any], tmp_path: Path
) -> AsyncIterator[tuple[Runtime, Any]]:
    """A runtime reaching PostgreSQL through the relay (``relayed_url``), and the relay."""
    _, through, relay = relayed_url
    rt = Runtime(tmp_path / "workflows", through, tmp_path, function_workers=1, resume=False)
    await rt.start()
    try:
        yield rt, relay
    finally:
        await rt.close()


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Tests run on the loop the product runs on (uvloop, engine/_loop.py): some
    behaviours differ, e.g. its add_reader makes a pipe non-blocking."""
    return {"uvloop": new_event_loop}
