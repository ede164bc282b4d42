"""A Slack post is recorded as soon as it completes: a process killed right after it
(before the run log's next periodic flush) is resumed without posting again (real
embedded PostgreSQL, a real stand-in Slack hook, `flowyard run` killed with -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from held_runs import HOLD
from standins.recording import RecordingServer

from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent

WORKFLOW = (
    """
name: post_then_hold
blocks:
  start: {{type: manual}}
  post:
    type: slack
    webhook_url: {hook}
    text: order 42 shipped"""
    + HOLD
    + """
edges: [start -> post, post -> hold]
"""
)


async def test_a_slack_post_is_not_sent_again_by_the_resume_of_a_process_killed_after_it(
    runtime: Runtime, database_url: str, tmp_path: Path
) -> None:
    log, gate = tmp_path / "log.txt", tmp_path / "gate"
    env = {**os.environ, "DATABASE_URL": database_url}
    cli = [sys.executable, "-m", "ui.cli"]
    with RecordingServer() as slack:
        wf = tmp_path / "post_then_hold.yaml"
        hook = f"{slack.url}/hook"
        wf.write_text(WORKFLOW.format(hook=hook, log=str(log), gate=str(gate)))
        proc = subprocess.Popen([*cli, "run", str(wf)], cwd=ROOT, env=env)
        try:
            deadline = time.monotonic() + 60
            # Killed the moment the next block starts: well within the 0.2 s after the
            # post in which its success waited in the buffer for the periodic flush.
            while not (log.exists() and "hold" in log.read_text()):
                assert time.monotonic() < deadline, "the run never reached `hold`"
                time.sleep(0.002)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        gate.touch()
        eid = await runtime.db.pool.fetchval(
            "SELECT execution_id::text FROM flowyard_runs WHERE workflow = 'post_then_hold'"
            " ORDER BY created_at DESC LIMIT 1"
        )
        resumed = subprocess.run(
            [*cli, "runs", "resume", eid], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr
        assert f"{eid} succeeded" in resumed.stdout
        assert len(slack.requests_to("/hook")) == 1
    assert log.read_text().split() == ["hold", "hold"]  # the block after it ran again
