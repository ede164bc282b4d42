"""The run log: append-only, nothing lost or written twice, secrets redacted in
every form they take, numbers kept exact (real embedded PostgreSQL)."""

from __future__ import annotations

import json
import uuid

import pytest

from engine.runtime import Runtime

OWNER = "test-owner"


async def _owned_run(pool) -> str:
    """A run row owned by OWNER: the recorder's writes are fenced by the owner."""
    eid = str(uuid.uuid4())
    await pool.execute(
        "INSERT INTO flowyard_runs (execution_id, workflow, status, owner)"
        " VALUES ($1::uuid, 'log_test', 'running', $2)",
        eid,
        OWNER,
    )
    return eid


@pytest.mark.parametrize(
    "secret",
    ["sk_live_very_secret_value", "pässwört-geheim-123", 'quote"and\\backslash-secret'],
    ids=["ascii", "non-ascii", "json-escaped"],
)
async def test_secrets_are_redacted_in_stored_events(
    run_yaml, runtime: Runtime, monkeypatch, secret: str
) -> None:
    monkeypatch.setenv("FLOWYARD_TEST_SECRET", secret)
    as_stored = json.dumps(secret, ensure_ascii=False)[1:-1]  # how JSON text holds it
    wf = """
    name: secretive
    blocks:
      start: {type: manual}
      use:
        type: function
        code: |
          return {"auth": "Bearer " + <env.FLOWYARD_TEST_SECRET>, "len": len(<env.FLOWYARD_TEST_SECRET>)}
    edges: [start -> use]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    assert result["output"]["auth"] == "Bearer ***"
    rows = await runtime.db.pool.fetch(
        "SELECT data::text AS d FROM flowyard_run_events WHERE execution_id = $1::uuid",
        result["execution_id"],
    )
    stored = " ".join(r["d"] for r in rows)
    assert as_stored not in stored and secret not in stored
    assert "***" in stored
    row = await runtime.db.pool.fetchval(
        "SELECT output::text FROM flowyard_runs WHERE execution_id = $1::uuid",
        result["execution_id"],
    )
    assert as_stored not in row and secret not in row


async def test_run_log_is_append_only(run_yaml, runtime: Runtime) -> None:
    import asyncpg

    result = await run_yaml("name: a\nblocks:\n  s: {type: manual}\n")
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await runtime.db.pool.execute(
            "UPDATE flowyard_run_events SET type = 'x' WHERE execution_id = $1::uuid",
            result["execution_id"],
        )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await runtime.db.pool.execute(
            "DELETE FROM flowyard_run_events WHERE execution_id = $1::uuid", result["execution_id"]
        )


async def test_the_run_log_cannot_be_truncated(runtime: Runtime) -> None:
    """UPDATE and DELETE were refused, but TRUNCATE (no row trigger fires) wiped
    every run's history. Tried inside a transaction that is rolled back whatever
    happens, so a missing trigger cannot cost the other tests their runs."""
    import asyncpg

    async with runtime.db.log_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            with pytest.raises(
                asyncpg.InsufficientPrivilegeError,
                match="flowyard_run_events is append-only: TRUNCATE is not allowed",
            ):
                await conn.execute("TRUNCATE flowyard_run_events")
        finally:
            await tx.rollback()


async def test_an_existing_run_log_is_given_the_truncate_trigger(database_url: str) -> None:
    """A database migrated before the trigger existed gets it at the next start."""
    import asyncpg
    from db_helpers import new_database

    from engine.migrations import SCHEMA_VERSION, migrate

    pool = await asyncpg.create_pool(
        await new_database(database_url, "runlog"), min_size=1, max_size=2
    )
    try:
        await migrate(pool)
        await pool.execute(  # as the previous schema version left it
            "DROP TRIGGER IF EXISTS flowyard_run_events_no_truncate ON flowyard_run_events;"
            f"DELETE FROM flowyard_schema; INSERT INTO flowyard_schema VALUES ({SCHEMA_VERSION - 1})"
        )
        await migrate(pool)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="TRUNCATE is not allowed"):
            await pool.execute("TRUNCATE flowyard_run_events")
    finally:
        await pool.close()


async def test_a_failed_run_log_write_loses_no_event(runtime: Runtime) -> None:
    from engine.recorder import RunRecorder

    class FlakyPool:
        """Fails the first write, then behaves like the real pool."""

        def __init__(self, pool) -> None:
            self.pool, self.calls = pool, 0

        async def execute(self, *args):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("connection reset")
            return await self.pool.execute(*args)

    eid = await _owned_run(runtime.db.log_pool)
    pool = FlakyPool(runtime.db.log_pool)
    recorder = RunRecorder(pool, eid, set(), OWNER, next_seq=1)
    recorder.add("block_started", "a", {"attempt": 1})
    with pytest.raises(ConnectionError):
        await recorder.flush()
    recorder.add("block_succeeded", "a", {"output": {}})
    await recorder.flush()
    events = await runtime.run_events(eid)
    assert [(e["seq"], e["type"]) for e in events] == [(1, "block_started"), (2, "block_succeeded")]


async def test_a_flush_cancelled_after_its_write_committed_is_not_written_twice(
    runtime: Runtime,
) -> None:
    """A sibling block's failure cancels a checkpoint whose INSERT may already have
    committed. Its events must not be put back: `finish` would write them again,
    fail on (execution_id, seq), and the run would stay `running` for good."""
    import asyncio

    from engine.recorder import RunRecorder

    committed = asyncio.Event()

    class SlowReplyPool:
        """Commits at once, answers late: the window in which a cancel arrives."""

        def __init__(self, pool) -> None:
            self.pool = pool

        async def execute(self, *args):
            result = await self.pool.execute(*args)
            committed.set()
            await asyncio.sleep(0.3)
            return result

    eid = await _owned_run(runtime.db.log_pool)
    recorder = RunRecorder(SlowReplyPool(runtime.db.log_pool), eid, set(), OWNER, next_seq=1)
    recorder.add("block_succeeded", "a", {"output": {}})
    checkpoint = asyncio.create_task(recorder.flush(checkpoint=True))
    await committed.wait()
    checkpoint.cancel()
    with pytest.raises(asyncio.CancelledError):
        await checkpoint
    recorder.add("run_failed", None, {"error": {"message": "a sibling failed"}})
    await recorder.finish("failed", None, {"message": "a sibling failed"})
    events = await runtime.run_events(eid)
    assert [(e["seq"], e["type"]) for e in events] == [(1, "block_succeeded"), (2, "run_failed")]


async def test_a_checkpoint_writes_only_what_a_resume_would_reuse(runtime: Runtime) -> None:
    from engine.recorder import RunRecorder

    eid = await _owned_run(runtime.db.log_pool)
    recorder = RunRecorder(runtime.db.log_pool, eid, set(), OWNER, next_seq=1)
    recorder.add("block_succeeded", "a", {"output": {}})
    await recorder.flush(checkpoint=True)  # a result: written before the side effect
    recorder.started_block("b", 1)
    await recorder.flush(checkpoint=True)  # only a start: nothing a resume reuses
    assert [e["type"] for e in await runtime.run_events(eid)] == ["block_succeeded"]
    await recorder.flush()  # the periodic flush writes it all the same
    assert [e["seq"] for e in await runtime.run_events(eid)] == [1, 2]


@pytest.mark.parametrize("isolation", ["inline", "process"])
async def test_integers_beyond_64_bits_stay_exact(run_yaml, runtime: Runtime, isolation) -> None:
    """An amount or id never comes back as a float: not from a Function's return,
    a jsonb column, or the stored run record (orjson alone reads 2**70 + 1 as 1.18e21)."""
    wf = f"""
    name: big_numbers_{isolation}
    blocks:
      start: {{type: manual}}
      f:
        type: function
        isolation: {isolation}
        code: |
          return {{"n": 2**70 + 1, "m": input.start.m}}
      q:
        type: database
        query: |
          SELECT '{{"id": 123456789012345678901234567}}'::jsonb AS doc
    edges: [start -> f, f -> q]
    """
    result = await run_yaml(wf, {"m": 18446744073709551617})
    assert result["status"] == "succeeded", result["error"]
    assert result["blocks"]["f"]["output"] == {"n": 2**70 + 1, "m": 18446744073709551617}
    assert result["blocks"]["q"]["output"]["doc"] == {"id": 123456789012345678901234567}
    stored = await runtime.run_result(result["execution_id"])
    assert stored["blocks"]["f"]["output"]["n"] == 2**70 + 1
    assert stored["input"] == {"m": 18446744073709551617}
    assert stored["blocks"]["q"]["output"]["doc"]["id"] == 123456789012345678901234567


async def test_a_nul_in_a_block_output_is_recorded_and_the_run_ends(run_yaml, runtime) -> None:
    """PostgreSQL's jsonb cannot hold U+0000: the run log's write failed, and the run
    stayed `queued` or `running` for good (and failed again on every restart)."""
    wf = """
    name: nul_output
    blocks:
      start: {type: manual}
      f:
        type: function
        code: |
          return {"s": "a" + chr(0) + "b", "kept": "\\\\u0000 stays text"}
    edges: [start -> f]
    """
    result = await run_yaml(wf)
    assert result["status"] == "succeeded", result["error"]
    # The caller gets it as recorded, the same wherever the run executed (the blocks
    # after `f` saw the NUL: tests/test_unrecordable_outputs.py shows it for a surrogate).
    assert result["output"]["s"] == "a\ufffdb"
    stored = await runtime.run_result(result["execution_id"])
    assert stored["status"] == "succeeded"
    assert stored["output"] == {"s": "a\ufffdb", "kept": "\\u0000 stays text"}
    assert stored["blocks"]["f"]["output"]["s"] == "a\ufffdb"
