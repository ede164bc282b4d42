"""One write at a time in a workflows folder: a save, a delete, a template copy.

Each of them checks the folder and then writes it (a save: the file's version, then
the file; a copy: that no file has its name, webhook path or ``name:``, then its
files; a delete: that the file exists, then the unlink). Two of them interleaved
answer what no serial order gives: two 201s for one name, a copy written over a
save told it created the file, a delete answered 204 with the file still there.

The lock is taken in two layers:

- a :class:`threading.Lock` per folder, for the requests of one ``serve`` (its
  threads); it does not depend on the file system;
- an exclusive ``flock`` on the folder itself (a directory file descriptor), for
  ``flowyard new`` or a second ``serve`` in another process on the same folder.
  Locking the directory leaves no lock file in a folder its team keeps in git.

A file system without ``flock`` (some network mounts answer ENOLCK) keeps the first
layer: logged once, and writes of one process stay serialized.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("flowyard.workflows")

_IN_PROCESS: dict[Path, threading.Lock] = {}
_IN_PROCESS_GUARD = threading.Lock()
_NO_FLOCK_SAID: set[Path] = set()


@contextlib.contextmanager
def workflows_folder_locked(folder: str | Path) -> Iterator[None]:
    """Hold the folder's write lock (created if missing, as a write would): not
    reentrant, so take it once, around the check and the write together."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    with _IN_PROCESS_GUARD:
        in_process = _IN_PROCESS.setdefault(key, threading.Lock())
    with in_process:
        fd = os.open(key, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _flock(fd, key)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases its flock


def _flock(fd: int, folder: Path) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:
        if folder not in _NO_FLOCK_SAID:
            _NO_FLOCK_SAID.add(folder)
            log.warning(
                "cannot lock %s (%s): writes from another process (flowyard new, a second "
                "serve) are not serialized with this one's",
                folder,
                exc,
            )
