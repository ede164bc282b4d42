"""A secret that reaches a run before the block reading it runs is redacted too.

The common "verify a shared token" webhook: the body carries the token, a later
Condition compares it with ``<env.…>``. The run's secrets were only those its
blocks had read so far, and the run row's input was stored as it came: the
trigger block's ``block_succeeded``, its output in the API and the run row's input
kept the token. Now the workflow's ``<env.…>`` values are known from the first
event, the stored input is redacted, and the input as it came is kept only until
the run ends, for whoever executes it (this process, a queue worker, the engine
process, a resume); a re-run of an ended run whose input held a secret is refused.

Real embedded PostgreSQL (a database of its own where processes take runs over),
real Runtimes; no mocks.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from db_helpers import new_database

from engine import migrations, workflow_versions
from engine.intake import IdempotencyConflict, same_json
from engine.model import Workflow
from engine.runtime import InputNotKept, Runtime

TOKEN = "Plain9Secret7Token"

VERIFY = """
name: {name}
blocks:
  start: {{type: manual}}
  check: {{type: condition, if: <input.token> == <env.FY_EARLY_TOKEN>}}
  accept: {{type: function, code: 'return {{"accepted": True, "event": <input.event>}}'}}
edges: [start -> check, check.true -> accept]
"""

#: A process of this host that is gone: its runs are taken over at once.
DEAD = f"{socket.gethostname()}:999999999:1"


@pytest.fixture
def verify(write_workflow: Any, monkeypatch: pytest.MonkeyPatch) -> Workflow:
    monkeypatch.setenv("FY_EARLY_TOKEN", TOKEN)
    return write_workflow(VERIFY.format(name=f"early_{uuid.uuid4().hex[:8]}"))


@pytest_asyncio.fixture(loop_scope="session")
async def own_database(database_url: str) -> AsyncIterator[str]:
    yield await new_database(database_url, "early")


async def stored_text(pool: Any, eid: str) -> str:
    """The run's row (every column) and its events, as text."""
    row = await pool.fetchval(
        "SELECT row_to_json(r)::text FROM flowyard_runs r WHERE execution_id = $1::uuid", eid
    )
    events = await pool.fetch(
        "SELECT data::text AS d FROM flowyard_run_events WHERE execution_id = $1::uuid", eid
    )
    return "\n".join([row, *(e["d"] for e in events)])


async def kept_input(pool: Any, eid: str) -> tuple[Any, Any, bool]:
    row = await pool.fetchrow(
        "SELECT input, unredacted_input, input_redacted FROM flowyard_runs"
        " WHERE execution_id = $1::uuid",
        eid,
    )
    return row["input"], row["unredacted_input"], row["input_redacted"]


async def test_a_secret_in_the_input_is_redacted_from_the_first_event(
    runtime: Runtime, verify: Workflow
) -> None:
    result = await runtime.execute(verify, {"token": TOKEN, "event": "order_paid"})
    # The run compared the token itself: the Condition took its true branch.
    assert result["status"] == "succeeded", result["error"]
    assert result["output"] == {"accepted": True, "event": "order_paid"}
    eid = result["execution_id"]

    stored = await runtime.run_result(eid)
    assert stored["input"] == {"token": "***", "event": "order_paid"}
    assert stored["blocks"]["start"]["output"] == {"token": "***", "event": "order_paid"}
    assert stored["blocks"]["check"]["inputs"]["<input.token>"] == "***"
    assert TOKEN not in json.dumps(result) + await stored_text(runtime.db.log_pool, eid)
    # Its end cleared the input as it came; that it held a secret stays known.
    assert await kept_input(runtime.db.log_pool, eid) == (
        {"token": "***", "event": "order_paid"}, None, True
    )  # fmt: skip

    with pytest.raises(InputNotKept, match="its input held a secret"):
        await runtime.rerun(eid)


async def test_an_input_without_a_secret_is_stored_and_rerun_as_it_came(
    runtime: Runtime, verify: Workflow
) -> None:
    result = await runtime.execute(verify, {"token": "wrong", "event": "order_paid"})
    assert result["status"] == "succeeded", result["error"]
    eid = result["execution_id"]
    assert await kept_input(runtime.db.log_pool, eid) == (
        {"token": "wrong", "event": "order_paid"}, None, False
    )  # fmt: skip
    again = await runtime.rerun(eid, from_failed=False)
    assert (await runtime.run_result(again.execution_id))["input"]["token"] == "wrong"


async def test_keys_holding_a_secret_are_stored_as_their_hash(
    runtime: Runtime, verify: Workflow
) -> None:
    """`idempotency_key: evt:<webhook.body.token>` (or a concurrency key, or the
    `Idempotency-Key` header) holding the secret kept it in clear in the run row, the
    job's lock and a 409's message, while the input showed `***`."""
    from engine.intake import hashed

    given = {"token": TOKEN, "event": "order_paid"}
    first = await runtime.submit(
        verify, given, idempotency_key=f"evt:{TOKEN}", concurrency_key=f"acct:{TOKEN}"
    )
    await runtime.wait(str(first.execution_id), timeout=30)
    row = await runtime.db.log_pool.fetchrow(
        "SELECT idempotency_key, concurrency_key FROM flowyard_runs WHERE execution_id = $1::uuid",
        str(first.execution_id),
    )
    assert dict(row) == {
        "idempotency_key": hashed(f"evt:{TOKEN}"),
        "concurrency_key": hashed(f"acct:{TOKEN}"),
    }
    assert TOKEN not in await stored_text(runtime.db.log_pool, str(first.execution_id))
    # The same key is the same run: a repeat starts nothing.
    again = await runtime.submit(verify, given, idempotency_key=f"evt:{TOKEN}")
    assert (again.execution_id, again.created) == (first.execution_id, False)
    # A key without the secret is kept as it is.
    plain = await runtime.submit(verify, {"token": "no"}, idempotency_key="evt:plain-1")
    await runtime.wait(str(plain.execution_id), timeout=30)
    assert (
        await runtime.db.log_pool.fetchval(
            "SELECT idempotency_key FROM flowyard_runs WHERE execution_id = $1::uuid",
            str(plain.execution_id),
        )
        == "evt:plain-1"
    )


async def test_every_process_that_takes_a_run_over_executes_its_input_as_it_came(
    own_database: str, workspace: Path, verify: Workflow, tmp_path: Path, monkeypatch: Any
) -> None:
    """Accepted here, executed elsewhere: handed to an engine process that is not
    there (claimed as stranded), queued for a worker (its job's claim), and left by
    a process that died (taken over). Each executes the token as it came, from a
    column no reader of runs shows, cleared when the run ends."""
    monkeypatch.setenv("FLOWYARD_QUEUE", f"test-{tmp_path.name}")
    web = Runtime(workspace / "workflows", own_database, workspace, resume=False, queue=True,
                  local=False)  # fmt: skip
    await web.start()
    try:
        pool = web.db.log_pool
        web.handoff = True  # accepted for an engine process, which none is running
        stranded = (await web.submit(verify, {"token": TOKEN, "event": "a"})).execution_id
        died = (await web.submit(verify, {"token": TOKEN, "event": "b"})).execution_id
        # A repeat of a delivery while its run is unfinished is judged on the input
        # as it came: the same token is the same request, another is a conflict.
        key = {"idempotency_key": "k-1", "same_request": same_json}
        first = await web.submit(verify, {"token": TOKEN, "event": "d"}, **key)
        again = await web.submit(verify, {"token": TOKEN, "event": "d"}, **key)
        assert (again.execution_id, again.created) == (first.execution_id, False)
        with pytest.raises(IdempotencyConflict):
            await web.submit(verify, {"token": "Plain9Secret7Tokem", "event": "d"}, **key)
        web.handoff = False  # a procrastinate job
        queued = (await web.submit(verify, {"token": TOKEN, "event": "c"})).execution_id
        await pool.execute(
            "UPDATE flowyard_runs SET owner = $2 WHERE execution_id = $1::uuid", died, DEAD
        )
        for eid in (stranded, died, queued):
            shown = (await web.run_result(eid))["input"]
            assert shown == {"token": "***", "event": shown["event"]}
            assert await kept_input(pool, eid) == (
                shown, {"token": TOKEN, "event": shown["event"]}, True
            )  # fmt: skip
            # What any reader of the run sees: its events, its record as the API gives it.
            seen = json.dumps(await web.run_events(eid)) + json.dumps(await web.run_result(eid))
            assert TOKEN not in seen
    finally:
        await web.close()

    engine = Runtime(workspace / "workflows", own_database, workspace, function_workers=1)
    await engine.start()  # resumes the stranded run and the dead process's
    try:
        await engine.execute_claimed(queued)  # what a worker's job does
        for eid, event in ((stranded, "a"), (died, "b"), (queued, "c"), (first.execution_id, "d")):
            result = await engine.wait(eid, timeout=60)
            assert result["status"] == "succeeded", result["error"]
            assert result["output"] == {"accepted": True, "event": event}
            assert await kept_input(engine.db.log_pool, eid) == (
                {"token": "***", "event": event}, None, True
            )  # fmt: skip
            assert TOKEN not in await stored_text(engine.db.log_pool, eid)
    finally:
        await engine.close()


async def test_runs_accepted_before_the_upgrade_resume_with_their_input(
    own_database: str, workspace: Path, verify: Workflow
) -> None:
    """Schema version 5 had no place for the input as it came: an unfinished run of
    a process that died then is resumed after the upgrade with its stored input,
    and the upgraded database keeps the next run's input apart."""
    rt = Runtime(workspace / "workflows", own_database, workspace, resume=False)
    await rt.start()
    try:
        pool = rt.db.log_pool
        await pool.execute(  # as version 5 left it, with a run its dead process accepted
            "ALTER TABLE flowyard_runs DROP COLUMN unredacted_input, DROP COLUMN input_redacted;"
            "DELETE FROM flowyard_schema; INSERT INTO flowyard_schema VALUES (5)"
        )
        stored = await workflow_versions.save_version(pool, verify, set())
        old = str(uuid.uuid4())
        await pool.execute(
            "INSERT INTO flowyard_runs (execution_id, workflow, workflow_hash, status, input,"
            " owner, heartbeat_at) VALUES ($1::uuid, $2, $3, 'queued', $4::jsonb, $5, now())",
            old, verify.name, stored, {"token": TOKEN, "event": "old"}, DEAD,
        )  # fmt: skip
        await pool.execute(
            "INSERT INTO flowyard_run_events (execution_id, seq, type, data)"
            " VALUES ($1::uuid, 1, 'run_queued', '{\"trigger\": \"manual\"}')",
            old,
        )
    finally:
        await rt.close()

    upgraded = Runtime(workspace / "workflows", own_database, workspace, function_workers=1)
    await upgraded.start()  # migrates, then resumes the dead process's run
    try:
        pool = upgraded.db.log_pool
        assert await pool.fetchval("SELECT max(version) FROM flowyard_schema") == (
            migrations.SCHEMA_VERSION
        )
        result = await upgraded.wait(old, timeout=60)
        assert result["status"] == "succeeded", result["error"]
        assert result["output"] == {"accepted": True, "event": "old"}
        # Stored as it came before the upgrade (which cannot tell what was a secret).
        assert (await kept_input(pool, old))[1:] == (None, False)

        new = await upgraded.execute(verify, {"token": TOKEN, "event": "new"})
        assert new["output"] == {"accepted": True, "event": "new"}
        assert await kept_input(pool, new["execution_id"]) == (
            {"token": "***", "event": "new"}, None, True
        )  # fmt: skip
    finally:
        await upgraded.close()
