"""`flowyard runs` past one listing's cap (1000 runs): `--limit 100000` stopped at
1000 without a word and nothing listed the rest. The cut is said on stderr with the
`--before ID` that lists the older runs, as the API's `next_before` pages on."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
from db_helpers import new_database
from processes import cli

from engine import runstore
from engine.model import load_file
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
#: Past the cap by a few.
RUNS = runstore.MAX_LISTED + 5

TRIVIAL = """
name: paged
blocks:
  start: {type: manual}
"""


async def _many_runs(url: str, tmp_path: Path) -> None:
    rt = Runtime(tmp_path / "workflows", url, tmp_path, function_workers=1, resume=False)
    await rt.start()
    try:
        (tmp_path / "paged.yaml").write_text(TRIVIAL)
        workflow = load_file(tmp_path / "paged.yaml")
        for first in range(0, RUNS, 100):
            batch = range(first, min(first + 100, RUNS))
            ends = await asyncio.gather(*(rt.execute(workflow, {"n": n}) for n in batch))
            assert {end["status"] for end in ends} == {"succeeded"}
    finally:
        await rt.close()


@pytest.fixture
def many_runs(database_url: str, tmp_path: Path) -> str:
    """A database of its own holding RUNS runs."""
    url = asyncio.run(new_database(database_url, "paged"))
    asyncio.run(_many_runs(url, tmp_path))
    return url


def _runs(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    return cli(["runs", *args], cwd, env)


def test_a_list_cut_at_the_cap_says_so_and_before_lists_the_rest(
    many_runs: str, tmp_path: Path
) -> None:
    first = _runs(["--limit", "100000"], tmp_path, many_runs)
    assert first.returncode == 0, first.stderr
    listed = [line[:36] for line in first.stdout.splitlines()]
    assert len(listed) == runstore.MAX_LISTED
    assert first.stderr == (
        f"flowyard runs: listed {runstore.MAX_LISTED} runs, the most one list gives;"
        f" the older ones: the same command with --before {listed[-1]}\n"
    )
    rest = _runs(["--limit", "100000", "--before", listed[-1]], tmp_path, many_runs)
    assert rest.returncode == 0, rest.stderr
    assert rest.stderr == ""  # the end: nothing more to say
    older = [line[:36] for line in rest.stdout.splitlines()]
    assert len(older) == RUNS - runstore.MAX_LISTED
    assert not set(older) & set(listed)

    # A list of exactly the cap, because that is all there is, says nothing more.
    exact = _runs(["--limit", "100000", "--before", listed[4]], tmp_path, many_runs)
    assert exact.returncode == 0, exact.stderr
    assert len(exact.stdout.splitlines()) == runstore.MAX_LISTED and exact.stderr == ""
    # `runs list` pages too.
    page = _runs(["list", "--limit", "3", "--before", listed[1]], tmp_path, many_runs)
    assert [line[:36] for line in page.stdout.splitlines()] == listed[2:5]


@pytest.mark.parametrize(
    ("before", "code", "said"),
    [
        (
            "abc",
            2,
            "flowyard runs: bad --before 'abc': a run's execution id (the last one listed)\n",
        ),
        (
            "38907b31-9715-4896-acc2-68c9ac50394d",
            1,
            "flowyard runs: --before names no run (38907b31-9715-4896-acc2-68c9ac50394d): it"
            " may have been deleted by retention; list again without --before\n",
        ),
    ],
)
def test_a_before_that_names_no_run_is_one_line(
    before: str, code: int, said: str, tmp_path: Path, database_url: str
) -> None:
    done = _runs(["--before", before], tmp_path, database_url)
    assert (done.returncode, done.stdout, done.stderr) == (code, "", said)
