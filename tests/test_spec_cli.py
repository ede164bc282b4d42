"""SPEC "CLI", command by command: `python -m ui.cli …` as a user runs it, on the
tests' PostgreSQL (or, for `db start|stop`, an embedded one of its own).

Elsewhere: `validate` printing every problem (test_validation), `worker` (test_scaleout),
`runs resume` (test_resume), `serve` installing the templates (test_first_run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from processes import cli, free_port, start, stop

ROOT = Path(__file__).resolve().parent.parent
RUN_KEYS = {"execution_id", "workflow", "status", "started_at", "finished_at", "output", "error", "blocks"}  # fmt: skip

ECHO = """\
version: 1
name: NAME
blocks:
  start:
    type: manual
  echo:
    type: function
    code: |
      return {"got": input.start.x}
edges:
  - start -> echo
"""

BOOM = """\
version: 1
name: NAME
blocks:
  boom:
    type: function
    code: |
      raise ValueError("no luck")
"""


@pytest.fixture
def ws(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A workspace (cwd) with a workflows folder, on the tests' database."""
    (tmp_path / "workflows").mkdir()
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    env.pop("FLOWYARD_WORKFLOWS", None)
    env.pop("FLOWYARD_TOKEN", None)
    yield tmp_path, env


def _write(folder: Path, text: str) -> str:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.yaml").write_text(textwrap.dedent(text).replace("NAME", name))
    return name


# -- run -------------------------------------------------------------------------------------


def test_run_by_name_with_json_input_exits_0(ws: tuple[Path, dict[str, str]]) -> None:
    cwd, env = ws
    name = _write(cwd / "workflows", ECHO)
    proc = cli(["run", name, "--input", '{"x": 7}', "--json"], cwd, env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert set(result) == RUN_KEYS
    assert result["status"] == "succeeded" and result["output"] == {"got": 7}
    assert result["workflow"] == name and result["error"] is None
    assert set(result["blocks"]) == {"start", "echo"}
    assert {"status", "attempts", "duration_ms", "output", "error"} <= set(result["blocks"]["echo"])


def test_run_a_file_with_input_from_a_file(ws: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    cwd, env = ws
    other = tmp_path / "elsewhere"
    other.mkdir()
    name = _write(other, ECHO)
    (tmp_path / "in.json").write_text('{"x": "from file"}')
    proc = cli(["run", str(other / f"{name}.yaml"), "--input", "@in.json", "--json"], cwd, env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["output"] == {"got": "from file"}
    # Without --json: the blocks, the run's status and the output, for a person.
    text = cli(["run", str(other / f"{name}.yaml"), "--input", '{"x": 1}'], cwd, env)
    assert text.returncode == 0 and " succeeded" in text.stdout and '"got": 1' in text.stdout


def test_run_that_fails_exits_1_with_the_error(ws: tuple[Path, dict[str, str]]) -> None:
    cwd, env = ws
    name = _write(cwd / "workflows", BOOM)
    proc = cli(["run", name, "--json"], cwd, env)
    assert proc.returncode == 1
    result = json.loads(proc.stdout)
    assert result["status"] == "failed"
    assert result["error"]["type"] == "ValueError" and result["error"]["block"] == "boom"
    assert "no luck" in result["error"]["message"]
    plain = cli(["run", name], cwd, env)
    assert plain.returncode == 1 and "no luck" in plain.stdout
    [said] = [line for line in plain.stdout.splitlines() if line.startswith("error: ")]
    assert said.endswith("(block boom)")  # a block's error names it; a run's has none


def test_run_workflows_flag_and_env_pick_the_folder(
    ws: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    cwd, env = ws
    folder = tmp_path / "mine"
    folder.mkdir()
    name = _write(folder, ECHO)
    assert cli(["run", name, "--input", '{"x": 1}'], cwd, env).returncode == 1  # not in ./workflows
    assert cli(["run", name, "--workflows", str(folder), "--input", '{"x": 1}'], cwd, env).returncode == 0  # fmt: skip
    env2 = {**env, "FLOWYARD_WORKFLOWS": str(folder)}
    assert cli(["run", name, "--input", '{"x": 1}'], cwd, env2).returncode == 0


# -- validate --------------------------------------------------------------------------------


def test_validate_several_files(ws: tuple[Path, dict[str, str]]) -> None:
    cwd, env = ws
    good = [cwd / "workflows" / f"{_write(cwd / 'workflows', ECHO)}.yaml" for _ in range(2)]
    proc = cli(["validate", *map(str, good)], cwd, env)
    assert proc.returncode == 0 and proc.stdout.count(": ok") == 2
    bad = cwd / "bad.yaml"
    bad.write_text("version: 1\nname: bad\nblocks:\n  a: {type: teleport}\n")
    proc = cli(["validate", str(good[0]), str(bad)], cwd, env)
    assert proc.returncode == 1
    assert "bad.yaml" in proc.stderr and "'a'" in proc.stderr and "teleport" in proc.stderr


# -- templates and new ------------------------------------------------------------------------


def test_templates_lists_both_shipped_templates(ws: tuple[Path, dict[str, str]]) -> None:
    cwd, env = ws
    proc = cli(["templates"], cwd, env)
    assert proc.returncode == 0
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert "Order Processing with Event Sourcing" in lines["order_processing"]
    assert "Replay Events" in lines["replay_events"]


def test_new_copies_the_template_with_its_sql(ws: tuple[Path, dict[str, str]]) -> None:
    cwd, env = ws
    proc = cli(["new", "order_processing", "shop"], cwd, env)
    assert proc.returncode == 0, proc.stderr
    folder = cwd / "workflows"
    assert (folder / "shop.yaml").read_text() == (ROOT / "templates/order_processing/workflow.yaml").read_text()  # fmt: skip
    assert (folder / "shop.schema.sql").read_text() == (ROOT / "templates/order_processing/schema.sql").read_text()  # fmt: skip
    # Without NAME the template's id is the name; Replay Events brings the tables it reads.
    assert cli(["new", "replay_events"], cwd, env).returncode == 0
    assert (folder / "replay_events.yaml").is_file() and (folder / "replay_events.schema.sql").is_file()  # fmt: skip
    assert cli(["validate", str(folder / "shop.yaml"), str(folder / "replay_events.yaml")], cwd, env).returncode == 0  # fmt: skip
    again = cli(["new", "order_processing", "shop"], cwd, env)
    assert again.returncode == 1 and "exists" in again.stderr
    unknown = cli(["new", "no_such_template"], cwd, env)
    assert unknown.returncode == 1 and "order_processing" in unknown.stderr


def test_new_unknown_template_prints_the_message_itself(ws: tuple[Path, dict[str, str]]) -> None:
    cwd, env = ws
    proc = cli(["new", "nosuch"], cwd, env)
    assert proc.returncode == 1
    # Not the KeyError's repr ("…" in quotes): the message, as a user reads it.
    assert proc.stderr.startswith("flowyard new: unknown template 'nosuch' (known: "), proc.stderr
    assert proc.stderr.rstrip().endswith(")")


def test_new_beside_the_installed_template_gives_the_copy_its_own_path_and_name(
    ws: tuple[Path, dict[str, str]],
) -> None:
    cwd, env = ws
    folder = cwd / "workflows"
    assert cli(["new", "order_processing"], cwd, env).returncode == 0
    proc = cli(["new", "order_processing", "op2"], cwd, env)
    assert proc.returncode == 0, proc.stderr
    # The output says what changed and where the copy's webhook now answers.
    assert "POST /webhooks/op2/events" in proc.stdout
    assert "Order Processing with Event Sourcing (op2)" in proc.stdout
    assert "already the webhook of order_processing.yaml" in proc.stdout
    both = [str(folder / "order_processing.yaml"), str(folder / "op2.yaml")]
    checked = cli(["validate", *both], cwd, env)
    assert checked.returncode == 0, checked.stderr


# -- runs ------------------------------------------------------------------------------------


def test_runs_lists_filters_and_shows(ws: tuple[Path, dict[str, str]]) -> None:
    cwd, env = ws
    ok, bad = _write(cwd / "workflows", ECHO), _write(cwd / "workflows", BOOM)
    ok_id = json.loads(cli(["run", ok, "--input", '{"x": 1}', "--json"], cwd, env).stdout)["execution_id"]  # fmt: skip
    bad_id = json.loads(cli(["run", bad, "--json"], cwd, env).stdout)["execution_id"]
    listed = cli(["runs", "--workflow", ok], cwd, env)
    assert listed.returncode == 0 and ok_id in listed.stdout and bad_id not in listed.stdout
    assert ok_id in cli(["runs"], cwd, env).stdout
    show = cli(["runs", "show", bad_id], cwd, env)
    assert show.returncode == 0
    assert bad_id in show.stdout and "failed" in show.stdout
    assert "boom" in show.stdout and "no luck" in show.stdout
    missing = cli(["runs", "show", str(uuid.uuid4())], cwd, env)
    assert missing.returncode == 1 and "no run" in missing.stderr


# -- db --------------------------------------------------------------------------------------


def test_db_url_and_init_on_database_url(
    ws: tuple[Path, dict[str, str]], database_url: str
) -> None:
    cwd, env = ws
    url = cli(["db", "url"], cwd, env)
    assert url.returncode == 0 and url.stdout.strip() == database_url
    init = cli(["db", "init"], cwd, env)
    assert init.returncode == 0 and "order_processing/schema.sql" in init.stdout


def test_db_start_url_stop_embedded() -> None:
    # Outside pytest's tmp_path: the embedded server runs as another user (as root),
    # who cannot enter pytest's private folders.
    cwd = Path(tempfile.mkdtemp(prefix="flowyard-cli-db-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    try:
        started = cli(["db", "start"], cwd, env)
        assert started.returncode == 0, started.stderr
        assert str(cwd / ".flowyard" / "pgdata") in started.stdout
        assert (cwd / ".flowyard" / "pgdata" / "postmaster.pid").exists()
        assert cli(["db", "url"], cwd, env).stdout == started.stdout
        assert cli(["db", "init"], cwd, env).returncode == 0
        assert _tables(started.stdout.strip()) >= {
            "events",
            "order_snapshots",
            "event_correlations",
        }
        stopped = cli(["db", "stop"], cwd, env)
        assert stopped.returncode == 0 and stopped.stdout.strip() == "stopped"
        assert not (cwd / ".flowyard" / "pgdata" / "postmaster.pid").exists()
        assert cli(["db", "stop"], cwd, env).stdout.strip() == "not running"
    finally:
        cli(["db", "stop"], cwd, env)
        shutil.rmtree(cwd, ignore_errors=True)


def _tables(url: str) -> set[str]:
    import asyncio

    import asyncpg

    async def names() -> set[str]:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        finally:
            await conn.close()
        return {r["tablename"] for r in rows}

    return asyncio.run(names())


# -- serve -----------------------------------------------------------------------------------


def _serve_until_up(cwd: Path, env: dict[str, str], args: list[str], log: Path, port: int) -> subprocess.Popen:  # fmt: skip
    import time

    proc = start(["serve", *args], env, cwd, log)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    stop([proc])
    raise AssertionError(log.read_text()[-3000:])


def test_serve_host_port_workflows_and_the_generated_token(
    ws: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    cwd, env = ws
    folder = tmp_path / "flows"
    folder.mkdir()
    name = _write(folder, ECHO)
    port = free_port()
    args = ["--host", "127.0.0.1", "--port", str(port), "--workflows", str(folder)]
    proc = _serve_until_up(cwd, env, args, tmp_path / "serve1.log", port)
    try:
        token = (cwd / ".flowyard" / "token").read_text().strip()
        assert token
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/api/workflows").status_code == 401
        listed = httpx.get(f"{base}/api/workflows", headers={"Authorization": f"Bearer {token}"})
        assert [w["name"] for w in listed.json()["workflows"]] == [name]
    finally:
        stop([proc])
    first = (tmp_path / "serve1.log").read_text()
    assert first.count(token) == 1  # printed once ...
    port = free_port()
    args = ["--port", str(port), "--workflows", str(folder)]
    proc = _serve_until_up(cwd, env, args, tmp_path / "serve2.log", port)
    stop([proc])
    assert token not in (tmp_path / "serve2.log").read_text()  # ... and only once
    assert (cwd / ".flowyard" / "token").read_text().strip() == token


def test_serve_defaults_to_127_0_0_1_port_8080() -> None:
    from ui.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.workflows) == ("127.0.0.1", 8080, None)
