"""Fixtures for the event-sourcing templates: a real embedded PostgreSQL and a
fresh database per test module with the template schema applied."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from db_helpers import new_database
from es_support import VARIANTS, Mailbox, StandInModel, template_workspace
from pytest_httpserver import HTTPServer
from standins.smtp import serving

from engine.database import start_embedded
from templates import apply_schemas, instantiate


@pytest.fixture(scope="session")
def pg_uri() -> Iterator[str]:
    """A server of our own: the template tests must not depend on which database
    the engine's fixtures use, and a private server can be dropped freely. Its
    data lives outside pytest's basetemp, which concurrent pytest sessions on
    the same machine rotate away (taking a running server's files with them)."""
    root = Path(tempfile.mkdtemp(prefix="flowyard-es-pg-"))
    server = start_embedded(root / "pgdata", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
async def event_db(pg_uri: str) -> AsyncIterator[str]:
    """URI of a new database holding the template schema (applied twice, to
    prove it is idempotent)."""
    uri = await new_database(pg_uri, "es")
    conn = await asyncpg.connect(uri)
    try:
        await apply_schemas(conn)
        await apply_schemas(conn)
    finally:
        await conn.close()
    yield uri
    admin = await asyncpg.connect(pg_uri)
    try:
        name = uri.partition("?")[0].rsplit("/", 1)[1]
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


# -- end to end: a Runtime on its own database, stand-in peers on 127.0.0.1 -------


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    with serving(box) as box.port:
        yield box


@pytest.fixture(scope="module")
async def es_runtime(pg_uri: str, make_httpserver: Any, mailbox: Mailbox) -> AsyncIterator[Any]:
    """A Runtime whose workspace holds the templates, as `flowyard new` makes it."""
    from engine.runtime import Runtime

    async with template_workspace(pg_uri, make_httpserver.url_for(""), mailbox) as (url, workflows):
        rt = Runtime(workflows, url, workflows.parent, function_workers=2, resume=False)
        await rt.start()
        try:
            yield rt
        finally:
            await rt.close()


@pytest.fixture
def stand_in_model() -> StandInModel:
    return StandInModel()


@pytest.fixture
def agent_workflows(
    es_runtime: Any,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    stand_in_model: StandInModel,
) -> Any:
    """The runtime with the Agent variants installed, their model a stand-in."""
    for template in ("order_processing_agent", "replay_events_agent"):
        if not (es_runtime.workflows_dir / f"{template}.yaml").exists():
            instantiate(template, es_runtime.workflows_dir)
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
        stand_in_model
    )
    monkeypatch.setenv("OPENAI_BASE_URL", httpserver.url_for("/v1"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-standin-not-a-real-key")
    return es_runtime


@pytest.fixture(params=list(VARIANTS))
def variant(request: pytest.FixtureRequest, es_runtime: Any) -> tuple[Any, str]:
    """(runtime, webhook path) for Order Processing and its Agent variant (whose
    model stand-in is installed only when that variant is asked for)."""
    if request.param == "orders/agent-events":
        return request.getfixturevalue("agent_workflows"), request.param
    return es_runtime, request.param


@pytest.fixture
def template_rt(request: pytest.FixtureRequest, template: str) -> Any:
    """The module's runtime for ``template`` (a test's parameter, Replay Events or
    its Agent variant); for an Agent variant, with its model stand-in installed."""
    return request.getfixturevalue("agent_workflows" if "agent" in template else "es_runtime")
