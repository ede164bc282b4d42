"""Noticing that a shared module changed: the ``lib/`` folders Function blocks import
from (the templates' reducer lives there, and their READMEs tell users to update it).

Python keeps an imported module for good, so without this a worker process went on
with the version it imported first, and inline functions (the engine's own process)
until a restart. Here the engine process looks at the folders' ``.py`` files at
most every :data:`LOOK_EVERY_S` and counts a change as a new *lib version*; each
call carries that version, and the process running it (a worker, or the engine's
own for ``isolation: inline``) forgets its lib modules when the version moved
(``engine._function_worker.use_libs``), so the next import reads the files again.
"""

from __future__ import annotations

import importlib.util
import os
import time

#: How often the lib folders are looked at, in seconds: a call made this long after
#: a file was saved uses it. A look costs one stat per file (~2 µs each); a call in
#: between costs a clock read and a comparison.
LOOK_EVERY_S = 0.05

#: path → (mtime_ns, ctime_ns, size) of every ``.py`` file under a lib folder.
Fingerprint = dict[str, tuple[int, int, int]]


def fingerprint(folder: str) -> Fingerprint:
    """The ``.py`` files under ``folder`` (packages too; not ``__pycache__`` or hidden
    folders) and what tells one version of each from the next. The change time is
    in it because ``cp -p`` or ``rsync -t`` can set the modification time back."""
    found: Fingerprint = {}
    pending = [folder]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:  # gone meanwhile: its files are gone too
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            try:
                if entry.is_dir():
                    pending.append(entry.path)
                elif entry.name.endswith(".py"):
                    st = entry.stat()
                    found[entry.path] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size)
            except OSError:
                continue
    return found


def _drop_bytecode(paths: set[str]) -> None:
    """Delete the cached bytecode of changed modules: Python checks a ``.pyc``
    against its source's mtime in whole seconds and its size, so an edit within the
    same second that keeps the size (``1`` → ``2``) would still import the old code."""
    for path in paths:
        try:
            os.unlink(importlib.util.cache_from_source(path))
        except (OSError, ValueError, NotImplementedError):
            pass


class LibraryWatch:
    """The lib version: a counter that moves when a ``.py`` file under a lib folder
    seen so far is added, removed or changed."""

    def __init__(self) -> None:
        self.version = 0
        self._folders: dict[str, Fingerprint] = {}
        self._next_look = 0.0

    def current(self, folders: list[str]) -> int:
        """The lib version for a call importing from ``folders`` (a folder not seen
        before is looked at at once)."""
        now = time.monotonic()
        known = self._folders
        if now < self._next_look:
            for folder in folders:
                if folder not in known:
                    break
            else:  # the hot path: a plain loop, no list built per call
                return self.version
        fresh = [f for f in folders if f not in known]
        changed: set[str] = set()
        for folder, before in list(known.items()):
            after = fingerprint(folder)
            if after != before:
                changed |= {
                    p for p in before.keys() | after.keys() if before.get(p) != after.get(p)
                }
                self._folders[folder] = after
        for folder in fresh:  # what a call finds there is its first version
            known[folder] = fingerprint(folder)
        if changed:
            _drop_bytecode(changed)
            self.version += 1
        self._next_look = now + LOOK_EVERY_S
        return self.version


#: One per process: the version numbers a process's calls carry must mean the same
#: files for every runtime in it (inline functions share the process's modules).
WATCH = LibraryWatch()
