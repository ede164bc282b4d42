"""A trigger block (manual, webhook, schedule) is where a run starts. An edge into
one ran it mid-run, and in a loop body a webhook ran each iteration as an empty
event (no request); both validated ok and are refused now, naming the block and
the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_problems import problems

import blocks  # noqa: F401 - registers the block types
from engine.model import load_file

HEAD = "name: t\nblocks:\n  start: {type: manual}\n  f: {type: function, code: 'return 1'}\n"
TRIGGERS = {
    "manual": "{type: manual}",
    "webhook": "{type: webhook, path: t/hook}",
    "schedule": "{type: schedule, cron: '0 * * * *', timezone: UTC}",
}


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_no_edge_may_lead_into_a_trigger(tmp_path: Path, kind: str) -> None:
    text = HEAD + f"  hook: {TRIGGERS[kind]}\nedges: [start -> f, f -> hook]\n"
    [found] = problems(tmp_path, text)
    assert found.endswith(
        f": block 'hook': field 'edges': edge f -> hook: a {kind} block is a trigger, "
        "where a run starts: no edge may lead into it"
    ), found


@pytest.mark.parametrize(
    ("container", "field"),
    [
        ("{type: loop, items: [1, 2], body: [f, hook]}", "body"),
        ("{type: parallel, items: [1], body: [hook]}", "body"),
        ("{type: parallel, branches: {a: [f], b: [hook]}}", "branches.b"),
    ],
)
@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_a_trigger_is_not_in_a_body(tmp_path: Path, kind: str, container: str, field: str) -> None:
    text = HEAD + f"  c: {container}\n  hook: {TRIGGERS[kind]}\nedges: [start -> c]\n"
    [found] = problems(tmp_path, text)
    assert found.endswith(
        f": block 'c': field '{field}': 'hook' is a {kind} block, a trigger, where a run "
        "starts: it cannot be inside a body, which runs within a run"
    ), found


def test_triggers_that_start_the_run_still_validate(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + f"  hook: {TRIGGERS['webhook']}\nedges: [start -> f, hook -> f]\n")
    load_file(path)
