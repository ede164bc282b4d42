"""The embedded PostgreSQL starts with flowyard's settings, not the defaults."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import asyncpg

from engine.database import EMBEDDED_SETTINGS, start_embedded


async def test_a_new_data_directory_runs_with_the_embedded_settings() -> None:
    root = Path(tempfile.mkdtemp(prefix="flowyard-settings-"))
    server = start_embedded(root / "pgdata", cleanup_mode="delete")
    try:
        conn = await asyncpg.connect(server.get_uri())
        try:
            shown = {k: await conn.fetchval(f"SHOW {k}") for k in EMBEDDED_SETTINGS}
        finally:
            await conn.close()
        assert shown == EMBEDDED_SETTINGS  # in effect now, not only at the next start
        # The handle follows the restarted process (so cleanup stops the right one).
        pid_file = (root / "pgdata" / "postmaster.pid").read_text().split()[0]
        assert server.get_pid() == int(pid_file)
        # Joining it again (every CLI command does) adds nothing to its files.
        start_embedded(root / "pgdata", cleanup_mode="delete")
        conf = (root / "pgdata" / "postgresql.conf").read_text()
        assert conf.count("include_if_exists = 'flowyard.conf'") == 1
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)
