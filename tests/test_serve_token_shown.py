"""The access token `serve` generates on a first start is shown once on a terminal,
and never written where a log collector keeps it: a `serve` whose stderr is a pipe or
a file (systemd, docker, `--log-format json` for a collector) names the file that
holds it instead (docs/deploy.md, "Operations")."""

from __future__ import annotations

import os
import pty
from pathlib import Path

import httpx
from db_helpers import new_database
from processes import free_port, start, stop, until_healthy

from ui.server import announce_token

ROOT = Path(__file__).resolve().parent.parent


async def test_a_generated_token_is_not_written_to_a_log(database_url: str, tmp_path: Path) -> None:
    # It was printed to stderr whatever stderr was: with --log-format json, the
    # one line of plain text in the collector's log was the key to the whole API.
    port = free_port()
    env = {**os.environ, "DATABASE_URL": await new_database(database_url, "token_shown"),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    env.pop("FLOWYARD_TOKEN", None)
    env.pop("FLOWYARD_WORKFLOWS", None)
    log = tmp_path / "serve.log"
    server = start(["serve", "--port", str(port), "--log-format", "json"], env, tmp_path, log)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client)
            token = (tmp_path / ".flowyard" / "token").read_text().strip()
            auth = {"Authorization": f"Bearer {token}"}
            assert (await client.get("/api/workflows", headers=auth)).status_code == 200
    finally:
        stop([server])
    text = log.read_text()
    assert token not in text, text
    assert str(tmp_path / ".flowyard" / "token") in text, text


def test_a_generated_token_is_shown_on_a_terminal(tmp_path: Path) -> None:
    main, terminal = pty.openpty()
    try:
        with os.fdopen(terminal, "w", closefd=False) as stream:
            announce_token("the-new-token", tmp_path / "token", stream)
        shown = os.read(main, 4096).decode()
    finally:
        os.close(main)
        os.close(terminal)
    assert "the-new-token" in shown and str(tmp_path / "token") in shown, shown
