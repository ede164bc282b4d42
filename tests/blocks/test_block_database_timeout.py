"""A Database block's `timeout` is the limit of its statement, also past the pool's.

The runner's pool limits every statement (asyncpg's command_timeout, 60 s): a block
with `timeout: 120` was still cut at 60 s, and said "timed out after 120 s". Here the
pool's limit is made 1 s, so that the difference shows in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import engine.database
from engine.runtime import Runtime

SLEEP = """
name: sleepy
blocks:
  start: {type: manual}
  nap:
    type: database
    query: SELECT 1 AS slept FROM pg_sleep(1.5)
    %s
edges: [start -> nap]
"""


async def _run(workspace: Path, url: str, wf: Any) -> dict[str, Any]:
    rt = Runtime(workspace / "workflows", url, workspace, function_workers=1, resume=False)
    await rt.start()
    try:
        return await rt.execute(wf)
    finally:
        await rt.close()


async def test_a_block_timeout_over_the_pools_limit_applies(
    workspace: Path, database_url: str, write_workflow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.database, "STATEMENT_LIMIT", 1.0)
    result = await _run(workspace, database_url, write_workflow(SLEEP % "timeout: 5"))
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["nap"]["output"]["slept"] == 1


async def test_without_a_block_timeout_the_pools_limit_cuts_the_statement(
    workspace: Path, database_url: str, write_workflow: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine.database, "STATEMENT_LIMIT", 1.0)
    result = await _run(workspace, database_url, write_workflow(SLEEP % ""))
    assert result["status"] == "failed"
    assert result["error"]["type"] == "TimeoutError" and result["error"]["block"] == "nap"
