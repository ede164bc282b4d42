"""The Prometheus text the /metrics endpoint serves."""

from __future__ import annotations

import re

from engine.metrics import render, runs_by_status
from engine.runtime import Runtime


async def test_metrics_count_runs_and_blocks(runtime: Runtime, run_yaml) -> None:
    await run_yaml(
        'name: metered\nblocks:\n  s: {type: manual}\n  c: {type: condition, if: "True"}\nedges: [s -> c]\n'
    )
    text = await render(runtime)
    assert re.search(r'^flowyard_runs\{status="succeeded"\} \d+$', text, re.M)
    assert re.search(
        r'^flowyard_runs_finished_total\{workflow="metered",status="succeeded"\} [1-9]\d*$',
        text,
        re.M,
    )
    assert re.search(r'^flowyard_block_duration_ms_count\{type="condition"\} [1-9]\d*$', text, re.M)
    assert re.search(
        r'^flowyard_block_duration_ms_bucket\{type="condition",le="\+Inf"\} [1-9]\d*$', text, re.M
    )
    assert "# TYPE flowyard_block_duration_ms histogram" in text


async def test_a_workflow_name_with_a_line_break_is_escaped_not_merged(
    runtime: Runtime, run_yaml
) -> None:
    """The text format escapes a line feed in a label as `\\n`. Written as a space, a
    workflow named "pay\\nout" and one named "pay out" were one series twice in the
    same scrape (Prometheus drops the second sample), and the name was not the name."""
    suffix = re.sub(r"\W", "", str(id(runtime)))[-6:]
    for name in (f"pay\\nout {suffix}", f"pay out {suffix}"):
        await run_yaml(
            f'name: "{name}"\nblocks:\n  s: {{type: manual}}\n  c: {{type: condition, if: "True"}}\n'
            "edges: [s -> c]\n"
        )
    text = await render(runtime)
    finished = [
        line for line in text.splitlines() if line.startswith("flowyard_runs_finished_total{")
    ]
    assert (
        f'flowyard_runs_finished_total{{workflow="pay\\nout {suffix}",status="succeeded"}} 1'
        in finished
    )
    assert (
        f'flowyard_runs_finished_total{{workflow="pay out {suffix}",status="succeeded"}} 1'
        in finished
    )
    series = [line.rsplit(" ", 1)[0] for line in finished]
    assert len(series) == len(set(series)), finished


def test_a_status_with_no_runs_is_zero_not_missing() -> None:
    """An alert on `flowyard_runs{status="failed"} > 0` or a graph of queued runs read
    a status with no runs as "no data": the gauge dropped it instead of saying 0."""
    lines = runs_by_status({"succeeded": 3})
    assert lines == [
        'flowyard_runs{status="queued"} 0',
        'flowyard_runs{status="running"} 0',
        'flowyard_runs{status="succeeded"} 3',
        'flowyard_runs{status="failed"} 0',
        'flowyard_runs{status="cancelled"} 0',
    ]
