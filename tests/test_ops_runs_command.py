"""`flowyard runs` options checked as the API checks them (`GET /api/runs` answers
400): a bad `--status`, a `--limit` under 1 or no number, a `prune --older-than`
that is no duration are one usage line and exit 2, before the database is opened;
and the listing keeps its columns with workflow names over 30 characters."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from processes import cli

ROOT = Path(__file__).resolve().parent.parent
ECHO = """\
name: NAME
blocks:
  start: {type: manual}
  echo: {type: function, code: "return 1"}
edges: [start -> echo]
"""


def _cli(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    return cli(args, cwd, env)


# Nobody answers there: an option let through would end in that error instead.
NOBODY = "postgresql://postgres@127.0.0.1:1/postgres"
RUN_ID = "38907b31-9715-4896-acc2-68c9ac50394d"
PRUNE_TAKES = (
    "flowyard runs prune: prune takes only --older-than (it removes every finished run"
    " older than that)"
)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--status", "bogus"], "flowyard runs: bad --status 'bogus': one of queued, running,"),
        (["--limit", "0"], "flowyard runs: bad --limit '0': a number of at least 1"),
        (["--limit", "-1"], "flowyard runs: bad --limit '-1': a number of at least 1"),
        (["--limit", "abc"], "flowyard runs: bad --limit 'abc': a number of at least 1"),
        (
            ["prune", "--older-than", "abc"],
            "flowyard runs prune: bad --older-than: not a duration: 'abc'",
        ),
        # A 43-line traceback: `interval out of range` from PostgreSQL.
        (
            ["prune", "--older-than", "99999999999w"],
            "flowyard runs prune: bad --older-than: too long: '99999999999w' (at most 36500d",
        ),
        # These pruned every finished run, whatever they named.
        (
            ["--workflow", "failing", "--status", "failed", "prune"],
            "flowyard runs prune: prune takes only --older-than (it removes every finished"
            " run older than that), not --workflow or --status",
        ),
        # After the action, argparse's "unrecognized arguments" under the top-level usage.
        (["prune", "--workflow", "failing"], f"{PRUNE_TAKES}, not --workflow\n"),
        (["prune", "--status", "failed", "--older-than", "7d"], f"{PRUNE_TAKES}, not --status\n"),
        (["prune", "--limit", "5"], f"{PRUNE_TAKES}, not --limit\n"),
        (["--limit", "5", "prune"], f"{PRUNE_TAKES}, not --limit\n"),
        # `show --limit 2 ID` read 2 as the id, and ID as unrecognized.
        (
            ["show", "--limit", "2", RUN_ID],
            "flowyard runs show: show takes only a run id, not --limit\n",
        ),
        (
            ["--limit", "2", "show", RUN_ID],
            "flowyard runs show: show takes only a run id, not --limit\n",
        ),
        (["show", "--limit", "2"], "flowyard runs show: show takes only a run id, not --limit\n"),
        (
            ["cancel", RUN_ID, "--workflow", "w"],
            "flowyard runs cancel: cancel takes only a run id, not --workflow\n",
        ),
        (
            ["resume", "--status", "queued"],
            "flowyard runs resume: resume takes only a run id (without one: every run whose"
            " process died), not --status\n",
        ),
    ],
)
def test_bad_runs_options_are_one_usage_line(args: list[str], said: str, tmp_path: Path) -> None:
    done = _cli(["runs", *args], tmp_path, NOBODY)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(said) and done.stderr.count("\n") == 1, done.stderr
    assert done.stdout == ""


def test_long_workflow_names_keep_the_date_column_apart(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "workflows").mkdir()
    tag = uuid.uuid4().hex[:8]
    names = [f"short {tag}", f"Order Processing (a copy for the EU shop) {tag}"]
    ids = []
    for i, name in enumerate(names):
        (tmp_path / "workflows" / f"w{i}.yaml").write_text(ECHO.replace("NAME", name))
        ran = _cli(["run", f"w{i}", "--json"], tmp_path, database_url)
        assert ran.returncode == 0, ran.stderr
        ids.append(ran.stdout.split('"execution_id": "')[1][:36])
    listed = _cli(["runs", "--limit", "100"], tmp_path, database_url)
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if line[:36] in ids]
    assert len(lines) == 2, listed.stdout
    # The date (an ISO time, the last field) starts at one column in both lines,
    # after each whole name and at least one space.
    date_at = {line.rindex(" ") + 1 for line in lines}
    assert len(date_at) == 1, lines
    for line in lines:
        shown = line[: line.rindex(" ")].rstrip()
        assert any(shown.endswith(name) for name in names), line


@pytest.mark.parametrize(
    "args",
    [
        ["prune", RUN_ID],
        ["list", "extra"],
    ],
)
def test_what_an_action_does_not_take_is_refused(args: list[str], tmp_path: Path) -> None:
    done = _cli(["runs", *args], tmp_path, NOBODY)
    assert done.returncode == 2, done.stderr
    assert "unrecognized arguments" in done.stderr and "cannot reach" not in done.stderr


def test_a_workflow_filter_no_file_can_be_named_lists_no_runs(
    tmp_path: Path, database_url: str
) -> None:
    # An OSError (File name too long) traceback: the name was looked up as a path too.
    (tmp_path / "workflows").mkdir()
    listed = _cli(["runs", "--workflow", "a" * 300 + ".yaml"], tmp_path, database_url)
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    ran = _cli(["run", "a" * 300 + ".yaml"], tmp_path, database_url)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr, ran.stderr
    assert "File name too long" in ran.stderr


def test_no_runs_of_a_misspelt_workflow_says_so(tmp_path: Path, database_url: str) -> None:
    """`flowyard runs --workflow helo` printed nothing, as for a workflow never run."""
    (tmp_path / "workflows").mkdir()
    name = f"echo_{uuid.uuid4().hex[:8]}"
    (tmp_path / "workflows" / f"{name}.yaml").write_text(ECHO.replace("NAME", name))
    done = _cli(["runs", "--workflow", name[:-1]], tmp_path, database_url)
    assert (done.returncode, done.stdout) == (0, ""), done.stderr
    assert done.stderr == (
        f"flowyard runs: no runs of workflow {name[:-1]!r}; did you mean {name!r}?\n"
    )
    done = _cli(["runs", "--workflow", name, "--status", "failed"], tmp_path, database_url)
    assert done.stderr == f"flowyard runs: no failed runs of workflow {name!r}\n"
