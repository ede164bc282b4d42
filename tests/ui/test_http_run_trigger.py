"""A run by hand of a workflow with several trigger blocks, through the API and the
CLI: it starts from the manual trigger, or from the only trigger block; with
several and no manual one it is refused before any run (engine/triggers.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient
from processes import cli

ROOT = Path(__file__).resolve().parents[2]

TWO_SCHEDULES = """
name: {name}
blocks:
  every1: {{type: schedule, cron: "* * * * *", input: {{period: one}}}}
  every2: {{type: schedule, cron: "*/2 * * * *", input: {{period: two}}}}
  f1: {{type: function, code: "return 1"}}
  f2: {{type: function, code: "return 2"}}
edges: [every1 -> f1, every2 -> f2]
"""

#: The report's two.yaml: a schedule declared before the manual trigger.
SCHEDULE_THEN_MANUAL = """
name: {name}
blocks:
  tick: {{type: schedule, cron: "0 2 * * *", catch_up: false}}
  start:
    type: manual
    input_schema: {{type: object, required: [x]}}
  work: {{type: function, code: "return {{'x': <start.x>}}"}}
edges: [start -> work]
"""

ONE_SCHEDULE = """
name: {name}
blocks:
  daily: {{type: schedule, cron: "0 2 * * *", input: {{report: daily, day: monday}}}}
  work: {{type: function, code: "return {{'report': input.report, 'day': input.day}}"}}
edges: [daily -> work]
"""


def _env(database_url: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url}


def _runs(client: FlaskClient, auth: dict[str, str], name: str) -> list[dict[str, object]]:
    return client.get(f"/api/runs?workflow={name}", headers=auth).get_json()["runs"]


def test_a_run_by_hand_of_two_schedules_without_a_manual_trigger_is_refused(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    name = f"two_sched_{uuid.uuid4().hex[:8]}"
    scratch(name, TWO_SCHEDULES)
    resp = client.post(f"/api/workflows/{name}/runs", json={}, headers=auth)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    why = (
        f"workflow {name!r} has several trigger blocks (every1, every2) and no manual"
        " trigger: a run by hand starts from one manual trigger block; add one (type: manual)"
        " leading to the blocks to run"
    )
    assert resp.get_json() == {"error": why, "problems": [why]}
    assert _runs(client, auth, name) == []


def test_flowyard_run_of_two_schedules_without_a_manual_trigger_exits_2(
    tmp_path: Path, database_url: str
) -> None:
    name = f"two_sched_{uuid.uuid4().hex[:8]}"
    (tmp_path / "multi.yaml").write_text(TWO_SCHEDULES.format(name=name))
    proc = cli(["run", "multi.yaml"], tmp_path, _env(database_url))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "several trigger blocks (every1, every2) and no manual trigger" in proc.stderr
    assert proc.stdout == ""
    runs = cli(["runs", "--workflow", name], tmp_path, _env(database_url))
    assert name not in runs.stdout  # no run was made


def test_a_run_by_hand_of_one_schedule_gets_its_input_as_before(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    name = f"one_sched_{uuid.uuid4().hex[:8]}"
    scratch(name, ONE_SCHEDULE)
    resp = client.post(f"/api/workflows/{name}/runs?wait=1", json={"day": "friday"}, headers=auth)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    run = resp.get_json()
    assert run["status"] == "succeeded", run["error"]
    assert run["output"] == {"report": "daily", "day": "friday"}
    assert run["blocks"]["daily"]["status"] == "succeeded"


def test_a_run_by_hand_starts_from_the_manual_trigger_declared_after_a_schedule(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    name = f"two_{uuid.uuid4().hex[:8]}"
    scratch(name, SCHEDULE_THEN_MANUAL)
    resp = client.post(f"/api/workflows/{name}/runs?wait=1", json={"x": 1}, headers=auth)
    run = resp.get_json()
    assert run["status"] == "succeeded", run["error"]
    assert run["output"] == {"x": 1}
    assert run["blocks"]["tick"]["status"] == "skipped"


def test_an_input_the_manual_trigger_after_a_schedule_refuses_is_422_and_starts_nothing(
    client: FlaskClient, auth: dict[str, str], scratch: Callable[[str, str], Path]
) -> None:
    # Only the first trigger block (the schedule) was checked: 202, then a failed run.
    name = f"two_{uuid.uuid4().hex[:8]}"
    scratch(name, SCHEDULE_THEN_MANUAL)
    resp = client.post(f"/api/workflows/{name}/runs", json={}, headers=auth)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.get_json() == {
        "error": "the input does not match the workflow's input_schema",
        "problems": ["'x' is a required property"],
    }
    assert _runs(client, auth, name) == []


def test_flowyard_run_with_an_input_the_manual_trigger_after_a_schedule_refuses_exits_2(
    tmp_path: Path, database_url: str
) -> None:
    name = f"two_{uuid.uuid4().hex[:8]}"
    (tmp_path / "two.yaml").write_text(SCHEDULE_THEN_MANUAL.format(name=name))
    proc = cli(["run", "two.yaml", "--input", "{}"], tmp_path, _env(database_url))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "input_schema" in proc.stderr and "'x' is a required property" in proc.stderr
    assert proc.stdout == ""
    runs = cli(["runs", "--workflow", name], tmp_path, _env(database_url))
    assert name not in runs.stdout  # no run was made
