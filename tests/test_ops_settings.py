"""Settings `flowyard serve` reads from the environment, refused at start in one
line when they cannot be used, before it binds its port, checks the database or
writes a token or templates: silently falling back leaves an operator believing a
setting they never got."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def _serve(cwd: Path, command: str = "serve", **settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **settings}
    # Nobody answers there: a setting let through would end in that error instead.
    env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/postgres"
    for name in ("FLOWYARD_TOKEN", "FLOWYARD_WORKFLOWS"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", *command.split()]
        + (["--port", str(free_port())] if command == "serve" else []),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_secret_key_is_refused_at_start(key: str, tmp_path: Path) -> None:
    done = _serve(tmp_path, FLOWYARD_SECRET_KEY=key)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "flowyard serve: FLOWYARD_SECRET_KEY is set but empty: give a key, or unset it"
        " to use the one generated in .flowyard/secret_key\n"
    )
    assert list(tmp_path.iterdir()) == []  # no token, key or templates written


@pytest.mark.parametrize("limit", ["abc", "1MiB", "0", "-1", "1.5", "²"])  # ²: isdigit(), not int()
def test_a_max_body_that_is_no_positive_number_of_bytes_is_refused(
    limit: str, tmp_path: Path
) -> None:
    # It fell back to 1 MiB unsaid, and 0 or -1 answered every delivery 413.
    done = _serve(tmp_path, FLOWYARD_MAX_BODY=limit)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"flowyard serve: FLOWYARD_MAX_BODY={limit!r} is not a number of bytes of at least 1"
        " (unset, it is 1048576: 1 MiB)\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("seconds", ["abc", "0", "301", "nan", "inf"])
def test_an_accept_timeout_that_is_no_number_of_seconds_is_refused(
    seconds: str, tmp_path: Path
) -> None:
    done = _serve(tmp_path, FLOWYARD_ACCEPT_TIMEOUT=seconds)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"flowyard serve: FLOWYARD_ACCEPT_TIMEOUT={seconds!r} is not a number of seconds"
        " from 0.1 to 300\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("limit", ["abc", "0", "-1", "1.5", "²"])
def test_a_max_active_runs_that_is_no_positive_number_is_refused(
    limit: str, tmp_path: Path
) -> None:
    done = _serve(tmp_path, FLOWYARD_MAX_ACTIVE_RUNS=limit)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"flowyard serve: FLOWYARD_MAX_ACTIVE_RUNS={limit!r} is not a number of runs"
        " from 1 to 100000\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_retention_that_is_no_duration_is_refused(command: str, tmp_path: Path) -> None:
    # Accepted, it killed the hourly pruning task on its first line: retention off.
    done = _serve(tmp_path, command, FLOWYARD_RUN_RETENTION="bogus")
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"flowyard {command}: FLOWYARD_RUN_RETENTION: not a duration: 'bogus'"
        " (use e.g. 7d, 12h, 30m)\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize(
    ("value", "said"),
    [
        # `interval out of range` at every hourly prune, logged and retention off.
        ("99999999999w", "too long: '99999999999w' (at most 36500d (100 years))"),
        ("36501d", "too long: '36501d' (at most 36500d (100 years))"),
        # Every finished run's record deleted at the first prune.
        (
            "0d",
            "'0d' would delete every finished run's record within the hour: give an"
            " age above 0 (unset, it is 30d)",
        ),  # fmt: skip
        (
            "0s",
            "'0s' would delete every finished run's record within the hour: give an"
            " age above 0 (unset, it is 30d)",
        ),  # fmt: skip
    ],
)
def test_a_retention_out_of_range_is_refused(
    command: str, value: str, said: str, tmp_path: Path
) -> None:
    done = _serve(tmp_path, command, FLOWYARD_RUN_RETENTION=value)
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"flowyard {command}: FLOWYARD_RUN_RETENTION: {said}\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("FLOWYARD_WORKER_POLL", "0.05"),
        ("FLOWYARD_WORKER_HEARTBEAT", "5"),
        ("FLOWYARD_WORKER_STALLED_AFTER", "20"),
        ("FLOWYARD_WORKER_CONNECTION_WAIT", "30"),
    ],
)
def test_a_worker_timing_that_is_no_positive_number_is_refused(
    command: str, name: str, default: str, tmp_path: Path
) -> None:
    # A traceback (`could not convert string to float`) once `serve` had written its
    # token and templates, or an in-process worker that silently never started.
    for value in ("abc", "0"):
        done = _serve(tmp_path, command, **{name: value})
        assert done.returncode == 1, done.stderr
        assert done.stderr == (
            f"flowyard {command}: {name}={value!r} is not a number of seconds above 0"
            f" and at most 3600 (unset, it is {default})\n"
        )
        assert list(tmp_path.iterdir()) == []


def test_a_stall_limit_within_the_heartbeat_is_refused(tmp_path: Path) -> None:
    # Live workers' running jobs would be taken for stalled and retried elsewhere.
    done = _serve(tmp_path, FLOWYARD_WORKER_HEARTBEAT="5", FLOWYARD_WORKER_STALLED_AFTER="5")
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "flowyard serve: FLOWYARD_WORKER_STALLED_AFTER (5 s) must be longer than"
        " FLOWYARD_WORKER_HEARTBEAT (5 s): a worker that beats in time would be taken for"
        " stalled\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["serve", "worker", "run"])
@pytest.mark.parametrize("workers", ["0", "two", "-1", "1.5", "257"])
def test_a_function_worker_count_that_is_no_number_of_processes_is_refused(
    command: str, workers: str, tmp_path: Path
) -> None:
    (tmp_path / "wf.yaml").write_text("name: wf\nblocks:\n  s: {type: manual}\n")
    args = {"run": "run wf.yaml"}.get(command, command)
    done = _serve(tmp_path, args, FLOWYARD_FUNCTION_WORKERS=workers)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"flowyard {command}: FLOWYARD_FUNCTION_WORKERS={workers!r} is not a number of"
        " worker processes from 1 to 256\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["wf.yaml"]


@pytest.mark.parametrize("command", ["serve", "worker", "run"])
@pytest.mark.parametrize("limit", ["10MB", "0", "-1", "1.5", "²"])
def test_a_max_response_that_is_no_positive_number_of_bytes_is_refused(
    command: str, limit: str, tmp_path: Path
) -> None:
    # It fell back to 64 MiB unsaid: `10MB` let 64 MiB answers in.
    (tmp_path / "wf.yaml").write_text("name: wf\nblocks:\n  s: {type: manual}\n")
    args = {"run": "run wf.yaml"}.get(command, command)
    done = _serve(tmp_path, args, FLOWYARD_MAX_RESPONSE=limit)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"flowyard {command}: FLOWYARD_MAX_RESPONSE={limit!r} is not a number of bytes of"
        " at least 1 (unset, it is 67108864: 64 MiB)\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["wf.yaml"]


def test_max_body_and_retention_read_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.config import max_body, run_retention

    monkeypatch.setenv("FLOWYARD_MAX_BODY", " 2048 ")
    monkeypatch.setenv("FLOWYARD_RUN_RETENTION", "12h")
    assert (max_body(), run_retention()) == (2048, 12 * 3600)
    monkeypatch.setenv("FLOWYARD_MAX_BODY", "")
    monkeypatch.delenv("FLOWYARD_RUN_RETENTION")
    assert (max_body(), run_retention()) == (1024 * 1024, 30 * 86400)


def test_worker_timings_read_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    from ui.config import worker_timings

    for name in ("FLOWYARD_WORKER_POLL", "FLOWYARD_WORKER_HEARTBEAT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLOWYARD_WORKER_STALLED_AFTER", " 7.5 ")
    monkeypatch.setenv("FLOWYARD_WORKER_CONNECTION_WAIT", "")
    assert worker_timings() == {
        "heartbeat": 5.0,
        "stalled_after": 7.5,
        "poll": 0.05,
        "connection_wait": 30.0,
    }
