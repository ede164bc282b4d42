"""Fixtures for the world-facing blocks: stand-in peers on 127.0.0.1 and a runtime
whose workflow folder belongs to these tests (webhook routing and the scheduler
look workflows up by folder, so they must not see other tests' files)."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for `standins`

from standins import ChatCompletionsStandIn, RecordingServer  # noqa: E402
from standins.smtp import Inbox, serving  # noqa: E402

from engine.model import Workflow  # noqa: E402
from engine.runtime import Runtime  # noqa: E402


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A plain SMTP server the Email block is pointed at (no login, no TLS)."""
    inbox = Inbox()
    with serving(inbox) as port:
        monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SMTP_PORT", str(port))
        monkeypatch.delenv("SMTP_USER", raising=False)
        monkeypatch.delenv("SMTP_PASSWORD", raising=False)
        monkeypatch.setenv("SMTP_FROM", "orders@shop.test")
        yield inbox


@pytest.fixture
def chat_standin() -> Iterator[ChatCompletionsStandIn]:
    with ChatCompletionsStandIn() as server:
        yield server


@pytest.fixture
def openai_env(
    chat_standin: ChatCompletionsStandIn, monkeypatch: pytest.MonkeyPatch
) -> ChatCompletionsStandIn:
    """The stand-in as the Agent block's default server: OPENAI_API_KEY, OPENAI_BASE_URL."""
    monkeypatch.setenv("OPENAI_API_KEY", chat_standin.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", chat_standin.base_url)
    return chat_standin


@pytest.fixture(scope="session")
def blocks_workflows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("blocks-workflows")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def blocks_runtime(
    blocks_workflows: Path, workspace: Path, database_url: str
) -> AsyncIterator[Runtime]:
    """A runtime on the shared test database with a workflow folder of its own."""
    rt = Runtime(blocks_workflows, database_url, workspace, function_workers=1, resume=False)
    await rt.start()
    yield rt
    await rt.close()


@pytest.fixture
def install_workflow(
    blocks_workflows: Path, blocks_runtime: Runtime
) -> Iterator[Callable[[str], Workflow]]:
    """Write YAML into the runtime's folder (so find_webhook/the scheduler see it)."""
    written: list[Path] = []

    def install(text: str) -> Workflow:
        name = f"wf_{uuid.uuid4().hex[:10]}"
        path = blocks_workflows / f"{name}.yaml"
        path.write_text(textwrap.dedent(text).replace("NAME", name))
        written.append(path)
        return blocks_runtime.load_workflow(name)

    yield install
    for path in written:
        path.unlink(missing_ok=True)


@pytest.fixture
def table_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest_asyncio.fixture(loop_scope="session")
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection for arranging and checking rows (not the code under test)."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
