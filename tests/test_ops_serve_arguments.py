"""`flowyard serve` with a `--port` or `--host` it cannot listen on as given, or a
`--concurrency` that runs nothing (`flowyard worker` too): one usage line on stderr and
exit 2, before anything starts, never a traceback and never a server on another port
than the one asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _serve(args: list[str], cwd: Path, command: str = "serve") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Nobody answers there: were the address not refused first, it would say so instead.
    env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/postgres"
    return subprocess.run(
        [sys.executable, "-m", "ui.cli", command, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,  # a server that started after all fails the test, not the run
    )


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1", "abc", "80.5", ""])
def test_a_port_outside_1_to_65535_is_a_usage_error(port: str, tmp_path: Path) -> None:
    done = _serve(["--port", port], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"flowyard serve: bad --port {port!r}: give a number from 1 to 65535\n"
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("host", ["256.1.1.1", "no-such-host.invalid", ""])
def test_a_host_that_is_no_address_is_a_usage_error(host: str, tmp_path: Path) -> None:
    done = _serve(["--host", host, "--port", "8080"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"flowyard serve: bad --host {host!r}: not an address")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "8080"],  # it started, and every save answered 503
        ["worker"],  # these started, and found no workflow in it, run after run
        ["run", "anything"],
        ["new", "replay_events"],
    ],
)
def test_a_workflows_folder_that_is_a_file_is_a_usage_error(
    command: list[str], tmp_path: Path
) -> None:
    (tmp_path / "notadir").write_text("")
    done = _serve(["--workflows", "notadir", *command[1:]], tmp_path, command[0])
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"flowyard {command[0]}: bad --workflows 'notadir': it is a file, not a folder of"
        " workflows\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notadir"]


def test_a_workflows_folder_not_given_is_named_as_it_came(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "notadir").write_text("")
    (tmp_path / "workflows").write_text("")
    monkeypatch.setenv("FLOWYARD_WORKFLOWS", "notadir")
    done = _serve([], tmp_path, "worker")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("flowyard worker: bad FLOWYARD_WORKFLOWS 'notadir': it is a file")
    monkeypatch.delenv("FLOWYARD_WORKFLOWS")
    done = _serve(["anything"], tmp_path, "run")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("flowyard run: bad workflows folder 'workflows': it is a file")


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_a_concurrency_below_1_is_a_usage_error(command: str, value: str, tmp_path: Path) -> None:
    # 0 or less started a worker that never ran a run, and said nothing.
    done = _serve(["--concurrency", value], tmp_path, command)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"flowyard {command}: bad --concurrency {value!r}: give a number of runs of at least 1\n"
    )
    assert done.stdout == "" and list(tmp_path.iterdir()) == []


def test_no_worker_with_an_engine_process_is_a_usage_error(tmp_path: Path) -> None:
    """--no-worker was dropped without a word, and the engine process ran every run."""
    done = _serve(["--no-worker", "--engine-process", "--port", "8080"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "flowyard serve: --no-worker and --engine-process cannot be used together:"
        " --no-worker leaves runs to `flowyard worker`s, --engine-process executes them in"
        " a second process of this serve; give one of them\n"
    )
    assert done.stdout == "" and list(tmp_path.iterdir()) == []
