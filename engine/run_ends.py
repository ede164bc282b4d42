"""Recording the end of a run that does not execute to its end here: one cancelled
before it began or while the database was away, one whose workflow version is gone,
and the blocks a stopped process left running (engine/recorder.py writes the rest)."""

from __future__ import annotations

from typing import Any

import asyncpg

from engine import runstore
from engine.recorder import RunRecorder


def end_left_running(
    recorder: RunRecorder, events: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Record, for a run that ends without executing them, each block its log shows
    still running (a stopped process never wrote its end) as interrupted: no finished
    run shows a block running. Returns their records (path → status, attempts, …)."""
    every = runstore.blocks_from_events(events, top_level_only=False)
    ended = {}
    for path, rec in every.items():
        if rec["status"] == "running":
            why = {"type": "Cancelled", "message": "interrupted before it finished", "block": path}
            recorder.add("block_failed", path, {"error": why, "attempts": rec["attempts"]})
            ended[path] = {"status": "failed", "attempts": rec["attempts"], "duration_ms": None,
                           "output": None, "error": why}  # fmt: skip
    return ended


async def record_end(
    pool: asyncpg.Pool,
    execution_id: str,
    owner: str,
    status: str,
    error: dict[str, Any],
    notify_finish: bool = False,
    next_seq: int | None = None,
) -> None:
    """Record the end of a run that is not executing: cancelled before it began or
    while the database was away, or its workflow version is gone. ``next_seq``: read
    from its log when not known — and then a block its log shows still running (its
    end never reached the log) is ended too: no finished run shows a block running."""
    events: list[dict[str, Any]] = []
    if next_seq is None:
        events = await runstore.fetch_events(pool, execution_id)
        next_seq = (events[-1]["seq"] + 1) if events else 2
    recorder = RunRecorder(pool, execution_id, set(), owner, next_seq, notify_finish)
    end_left_running(recorder, events)
    recorder.add(f"run_{status}", None, {"output": None, "error": error})
    await recorder.finish(status, None, error)
