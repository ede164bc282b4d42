"""A `flowyard worker` stopped (SIGTERM) while its job runs lets the job end, and
meanwhile still beats: its own job is not taken for a stalled worker's.

procrastinate stops its worker's heartbeat before it waits for the running jobs, so
a drain longer than FLOWYARD_WORKER_STALLED_AFTER logged `retrying job … of a
stalled worker` about the worker's own job, put back for another process to take.
"""

from __future__ import annotations

import os
import signal
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from held_runs import HELD, until
from processes import start, stop

from engine.model import load_file
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

#: The worker's stall limit: short, so the drain below outlasts it several times.
STALLED_AFTER_S = 1.5

_JOB = """
SELECT j.status::text AS status, w.last_heartbeat > $3 AS beat_since
FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.queue_name = $1 AND j.args->>'execution_id' = $2
"""


async def test_a_draining_worker_keeps_beating_and_does_not_retry_its_own_job(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"drain-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FLOWYARD_QUEUE", queue)  # the accepting runtime's queue too
    log, gate = tmp_path / "log", tmp_path / "gate"
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    suffix = uuid.uuid4().hex[:8]
    (workflows / "held.yaml").write_text(HELD.format(suffix=suffix, log=str(log), gate=str(gate)))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLOWYARD_QUEUE": queue,
        "FLOWYARD_WORKFLOWS": str(workflows),
        "FLOWYARD_WORKER_HEARTBEAT": "0.5",
        "FLOWYARD_WORKER_STALLED_AFTER": str(STALLED_AFTER_S),
        "PYTHONPATH": str(ROOT),
    }
    server = Runtime(
        workflows, database_url, tmp_path, function_workers=1, resume=False, queue=True, local=False
    )
    await server.start()
    worker_log = tmp_path / "worker.log"
    worker = start(["worker", "--concurrency", "2"], env, tmp_path, worker_log)
    pool = server.db.log_pool
    try:
        eid = (await server.submit(load_file(workflows / "held.yaml"), {})).execution_id
        assert await until(log.exists), worker_log.read_text()[-4000:]
        signalled = await pool.fetchval("SELECT now()")
        worker.send_signal(signal.SIGTERM)

        # Its heartbeat goes on well past the stall limit, while the job still runs.
        later = signalled + timedelta(seconds=2 * STALLED_AFTER_S)

        async def beat_long_after_the_signal() -> bool:
            row = await pool.fetchrow(_JOB, queue, eid, later)
            return row is not None and bool(row["beat_since"])

        assert await until(beat_long_after_the_signal), worker_log.read_text()[-4000:]
        row = await pool.fetchrow(_JOB, queue, eid, later)
        assert row["status"] == "doing"
        assert worker.poll() is None  # still draining
        gate.write_text("open")
        result = await server.wait(eid, timeout=60)
        assert result["status"] == "succeeded", result
        assert worker.wait(timeout=60) == 0
        said = worker_log.read_text()
        assert "stalled worker" not in said, said[-4000:]
        assert log.read_text().split() == ["hold", "after"]  # executed once
    finally:
        stop([worker])
        await server.close()
