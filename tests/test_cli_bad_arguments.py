"""Bad `flowyard run --input` values and bad run ids, as a user types them: one line
saying what is wrong and an exit code, never a traceback or a silently changed input.
`python -m ui.cli …` in a workspace on the tests' PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from processes import cli

ROOT = Path(__file__).resolve().parent.parent

ECHO = """\
name: NAME
blocks:
  start: {type: manual}
  echo:
    type: function
    code: |
      return {"got": input.start.x}
edges: [start -> echo]
"""


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> tuple[Path, dict[str, str], str]:
    """A workspace (cwd) with one workflow, on the tests' database; and its name."""
    (tmp_path / "workflows").mkdir()
    name = f"cli_{uuid.uuid4().hex[:8]}"
    (tmp_path / "workflows" / f"{name}.yaml").write_text(ECHO.replace("NAME", name))
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    return tmp_path, env, name


def _runs_listed(ws: tuple[Path, dict[str, str], str]) -> list[str]:
    cwd, env, name = ws
    proc = cli(["runs", "--workflow", name], cwd, env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ('{"x": "a\\u0000b"}', "contains a NUL character (\\u0000) at x, which cannot be stored"),
        ('{"x": {"\\u0000": 1}}', "contains a NUL character (\\u0000) in a key at x, which"),
        ('{"x": "\\ud800"}', "contains a lone UTF-16 surrogate (\\ud800) at x, which cannot"),
        ('{"x": NaN}', "NaN"),
        ('{"x": 1e999999}', "1e999999"),
    ],
)
def test_an_input_that_cannot_be_stored_exits_2_with_one_line(
    ws: tuple[Path, dict[str, str], str], given: str, said: str
) -> None:
    # A NUL was a traceback from the database; NaN and 1e999999 ran, stored as null.
    cwd, env, name = ws
    proc = cli(["run", name, "--input", given], cwd, env)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowyard run: bad --input: "), lines
    assert said in lines[0], lines
    assert _runs_listed(ws) == []


def test_input_at_without_a_file_name_says_so(ws: tuple[Path, dict[str, str], str]) -> None:
    # It said "[Errno 21] Is a directory: '.'".
    cwd, env, name = ws
    proc = cli(["run", name, "--input", "@"], cwd, env)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "flowyard run: bad --input: a file name is needed after @ (--input @FILE, or @- for "
        "stdin)"
    )


@pytest.mark.parametrize("spec", ["-", "@-"])
def test_input_from_stdin(ws: tuple[Path, dict[str, str], str], spec: str) -> None:
    # `echo '{…}' | flowyard run f --input -` said "Expecting value: line 1 column 1".
    cwd, env, name = ws
    proc = subprocess.run(
        [sys.executable, "-m", "ui.cli", "run", name, "--input", spec, "--json"],
        cwd=cwd,
        env=env,
        input='{"x": "piped"}',
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == {"got": "piped"}


def test_input_from_a_missing_file_says_so_in_words(ws: tuple[Path, dict[str, str], str]) -> None:
    # It said "[Errno 2] No such file or directory: 'nope.json'".
    cwd, env, name = ws
    proc = cli(["run", name, "--input", "@nope.json"], cwd, env)
    assert proc.returncode == 2
    assert proc.stderr == (
        "flowyard run: bad --input: no file 'nope.json' (give @FILE, a JSON file to read)\n"
    )
    assert _runs_listed(ws) == []


def test_input_from_a_file_that_begins_with_a_bom_is_read(
    ws: tuple[Path, dict[str, str], str],
) -> None:
    # Windows editors write one; it was refused as bad JSON.
    cwd, env, name = ws
    (cwd / "in.json").write_bytes(b'\xef\xbb\xbf{"x": "caf\xc3\xa9"}')
    proc = cli(["run", name, "--input", "@in.json", "--json"], cwd, env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == {"got": "café"}


@pytest.mark.parametrize("action", ["show", "cancel", "resume"])
def test_a_run_id_that_is_not_a_uuid_is_no_run(
    ws: tuple[Path, dict[str, str], str], action: str
) -> None:
    # cancel and resume printed asyncpg's DataError traceback (40 lines).
    cwd, env, _ = ws
    proc = cli(["runs", action, "notauuid"], cwd, env)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert proc.stderr == "no run notauuid\n" and proc.stdout == ""
