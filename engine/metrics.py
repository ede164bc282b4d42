"""Prometheus text metrics: in-process counters plus a few database gauges.

Counters are per process (the Prometheus way: scrape each process); the gauges
(runs by status, queue depth) come from the shared database.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from typing import TYPE_CHECKING

from engine.runstore import RUN_STATUSES

if TYPE_CHECKING:
    from engine.runtime import Runtime

# Upper bounds (ms) of the block duration histogram.
BUCKETS_MS = (1, 5, 10, 50, 100, 500, 1000, 5000, 30000)


class Metrics:
    def __init__(self) -> None:
        self.runs_finished: dict[tuple[str, str], int] = defaultdict(int)  # (workflow, status)
        self.block_count: dict[tuple[str, str], int] = defaultdict(int)  # (type, status)
        self.block_ms_sum: dict[str, float] = defaultdict(float)
        self.block_buckets: dict[str, list[int]] = defaultdict(lambda: [0] * (len(BUCKETS_MS) + 1))

    def run_finished(self, workflow: str, status: str) -> None:
        self.runs_finished[(workflow, status)] += 1

    def block_finished(self, block_type: str, status: str, duration_ms: float) -> None:
        self.block_count[(block_type, status)] += 1
        self.block_ms_sum[block_type] += duration_ms
        self.block_buckets[block_type][bisect_left(BUCKETS_MS, duration_ms)] += 1


def _label(value: str) -> str:
    """A label value as the text format escapes it (a line feed too: as a space, two
    workflow names became one series)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def runs_by_status(counts: dict[str, int]) -> list[str]:
    """The gauge's samples, every status named: one with no runs says 0 rather than
    vanishing (an alert on `flowyard_runs{status="failed"} > 0`, or a graph of the
    queue, reads a missing series as "no data", not as none)."""
    statuses = [*RUN_STATUSES, *sorted(set(counts) - set(RUN_STATUSES))]
    return [f'flowyard_runs{{status="{_label(s)}"}} {counts.get(s, 0)}' for s in statuses]


async def render(runtime: Runtime) -> str:
    m = runtime.metrics
    out = [
        "# HELP flowyard_runs Runs in the database by status.",
        "# TYPE flowyard_runs gauge",
    ]
    rows = await runtime.db.log_pool.fetch(
        "SELECT status, count(*) AS n FROM flowyard_runs GROUP BY status"
    )
    out += runs_by_status({row["status"]: row["n"] for row in rows})
    out += [
        "# HELP flowyard_runs_finished_total Runs this process finished.",
        "# TYPE flowyard_runs_finished_total counter",
    ]
    for (wf, status), n in sorted(m.runs_finished.items()):
        out.append(f'flowyard_runs_finished_total{{workflow="{_label(wf)}",status="{status}"}} {n}')
    out += [
        "# HELP flowyard_block_duration_ms Block durations in this process.",
        "# TYPE flowyard_block_duration_ms histogram",
    ]
    for btype, buckets in sorted(m.block_buckets.items()):
        cumulative = 0
        for bound, n in zip((*BUCKETS_MS, "+Inf"), buckets, strict=True):
            cumulative += n
            out.append(
                f'flowyard_block_duration_ms_bucket{{type="{_label(btype)}",le="{bound}"}} {cumulative}'
            )
        out.append(
            f'flowyard_block_duration_ms_sum{{type="{_label(btype)}"}} {m.block_ms_sum[btype]:.3f}'
        )
        out.append(f'flowyard_block_duration_ms_count{{type="{_label(btype)}"}} {cumulative}')
    out += [
        "# HELP flowyard_blocks_total Blocks this process settled.",
        "# TYPE flowyard_blocks_total counter",
    ]
    for (btype, status), n in sorted(m.block_count.items()):
        out.append(f'flowyard_blocks_total{{type="{_label(btype)}",status="{status}"}} {n}')
    if runtime.queue is not None:
        out += [
            "# HELP flowyard_queue_jobs Jobs in the run queue by status.",
            "# TYPE flowyard_queue_jobs gauge",
        ]
        for status, n in sorted((await runtime.queue.depth(runtime.db.log_pool)).items()):
            out.append(
                f'flowyard_queue_jobs{{queue="{_label(runtime.queue.name)}",status="{status}"}} {n}'
            )
        if runtime.queue.worker_state is not None:  # this process works the queue
            out += [
                "# HELP flowyard_queue_worker_restarts_total Times this process's queue"
                " worker ended by itself (the database away too long) and was started again.",
                "# TYPE flowyard_queue_worker_restarts_total counter",
                f"flowyard_queue_worker_restarts_total {runtime.queue.worker_restarts}",
            ]
    out += [
        "# HELP flowyard_runs_in_flight Runs executing in this process.",
        "# TYPE flowyard_runs_in_flight gauge",
    ]
    out.append(f"flowyard_runs_in_flight {runtime.runs_in_flight}")
    out += [
        "# HELP flowyard_runs_waiting Runs accepted by this process waiting for their"
        " concurrency key's turn or a slot (FLOWYARD_MAX_ACTIVE_RUNS).",
        "# TYPE flowyard_runs_waiting gauge",
        f"flowyard_runs_waiting {runtime.runs_waiting}",
    ]
    return "\n".join(out) + "\n"
