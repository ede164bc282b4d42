"""Every command that needs the database, on a DATABASE_URL nobody answers (or one
that refuses us): one line on stderr naming it, exit 1, no traceback, and nothing
written first (`serve` installs no templates and generates no token, `new` copies
nothing). `python -m ui.cli …` as an operator runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from processes import cli, free_port

ROOT = Path(__file__).resolve().parent.parent


def _cli(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    for name in ("FLOWYARD_TOKEN", "FLOWYARD_WORKFLOWS"):
        env.pop(name, None)
    return cli(args, cwd, env)


def _nobody_answers() -> tuple[str, int]:
    port = free_port()  # free: nothing listens there
    return f"postgresql://postgres:secret-pw@127.0.0.1:{port}/postgres", port


def test_serve_on_an_unreachable_database_says_so_and_sets_nothing_up(tmp_path: Path) -> None:
    url, port = _nobody_answers()
    done = _cli(["serve", "--port", str(free_port())], tmp_path, url)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(
        f"flowyard serve: cannot reach the database at 127.0.0.1:{port}/postgres: "
    ), done.stderr
    assert done.stderr.endswith("(DATABASE_URL)\n") and done.stderr.count("\n") == 1
    assert "secret-pw" not in done.stderr
    # No templates installed without their tables, no token generated and printed.
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["db", "init"],
        ["runs"],
        ["runs", "prune"],
        ["run", "anything"],
        ["worker"],
        ["new", "replay_events"],
    ],
)
def test_commands_on_an_unreachable_database_say_so_in_one_line(
    args: list[str], tmp_path: Path
) -> None:
    url, port = _nobody_answers()
    done = _cli(args, tmp_path, url)
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"flowyard {args[0]}: cannot reach the database at 127.0.0.1:{port}/postgres:"
        f" {done.stderr.split(': ', 2)[2]}"
    )
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # `new` copied nothing


def test_a_database_that_refuses_us_is_one_line_too(tmp_path: Path, database_url: str) -> None:
    # The tests' server answers, but has no such database (as a wrong password does).
    parts = urlsplit(database_url)
    url = urlunsplit(parts._replace(path="/flowyard_no_such_database"))
    done = _cli(["runs"], tmp_path, url)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("flowyard runs: cannot use the database at "), done.stderr
    assert "flowyard_no_such_database" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize("password", ["TopSecret99#x", "Pa/ssW0rd", "Pa?ssW0rd"])
def test_a_malformed_url_never_shows_its_password(tmp_path: Path, password: str) -> None:
    """asyncpg's own words quoted the piece it could not read: the password, in part."""
    done = _cli(["runs"], tmp_path, f"postgresql://fy:{password}@127.0.0.1:1/db")
    assert done.returncode == 1, done.stderr
    assert "the URL is malformed" in done.stderr and done.stderr.count("\n") == 1
    for piece in ("TopSecret", "Pa", "ssW0rd"):
        assert piece not in done.stderr.replace("Password", ""), done.stderr
