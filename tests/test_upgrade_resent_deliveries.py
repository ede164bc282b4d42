"""A delivery accepted by an earlier release and resent after the upgrade is a
repeat of its run, also when this release redacts more of its input.

A run's input is stored redacted; once the run ends, only that form is kept, and a
repeat of its idempotency key is judged by comparing it with the repeat redacted
the same way. A release that learns to redact more (the password of an HTTP
block's URL, since 8e57f3c) redacts the resend where the first run's stored input
kept the value in clear: the sender's retry of a delivery accepted before the
upgrade was refused as "a different request" (a 409 to the webhook sender).

Real embedded PostgreSQL, a real Runtime; the earlier release's stored form is
written by SQL. No mocks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from db_helpers import new_database

from engine.intake import IdempotencyConflict, same_json
from engine.runtime import Runtime

TOKEN = "tok_Plain9Secret7Token"
PASSWORD = "hunter2Password9Long"

#: The Authorization header was redacted by 8e57f3c already; the URL's password
#: was not (it is now). Port 9 refuses: the call fails at once, and is handled.
CALLS = """
name: {name}
blocks:
  start: {{type: manual}}
  call:
    type: http
    method: POST
    url: "http://api:<input.pw>@127.0.0.1:9/x"
    headers: {{Authorization: "Bearer <input.token>"}}
    json: {{a: 1}}
    timeout: 5
    on_error: continue
edges: [start -> call]
"""


@pytest_asyncio.fixture(loop_scope="session")
async def own_database(database_url: str) -> AsyncIterator[str]:
    yield await new_database(database_url, "resent")


async def test_a_resend_of_a_delivery_an_earlier_release_redacted_less_is_its_repeat(
    own_database: str, workspace: Path, write_workflow: Any
) -> None:
    workflow = write_workflow(CALLS.format(name=f"resent_{uuid.uuid4().hex[:8]}"))
    rt = Runtime(workspace / "workflows", own_database, workspace)
    await rt.start()
    try:
        key = {"idempotency_key": "d-1", "same_request": same_json}
        sent = {"token": TOKEN, "pw": PASSWORD, "n": 1}
        first = await rt.submit(workflow, dict(sent), **key)
        result = await rt.wait(first.execution_id, timeout=60)
        assert result["status"] == "succeeded", result["error"]
        pool = rt.db.log_pool
        # As 8e57f3c stored it once the run ended: the token redacted, the password not.
        await pool.execute(
            "UPDATE flowyard_runs SET input = $2::json, unredacted_input = NULL,"
            " input_redacted = true WHERE execution_id = $1::uuid",
            first.execution_id,
            {"token": "***", "pw": PASSWORD, "n": 1},
        )

        again = await rt.submit(workflow, dict(sent), **key)
        assert (again.execution_id, again.created) == (first.execution_id, False)

        # Still a different request: another password, or another value elsewhere.
        for other in ({**sent, "pw": "hunter2Password9Lonk"}, {**sent, "n": 2}):
            with pytest.raises(IdempotencyConflict):
                await rt.submit(workflow, other, **key)
    finally:
        await rt.close()
