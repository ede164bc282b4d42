"""The Prometheus text the /metrics endpoint serves."""

from __future__ import annotations

import re

from engine.metrics import render
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
