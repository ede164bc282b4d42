"""The ``lib/`` folders Function blocks import from, and noticing that a module in one
changed (the templates' reducer lives there, and their READMEs tell users to update it).

Which folders: :func:`lib_folders` (docs/blocks/function.md says the same rule).

Python keeps an imported module for good, so without the watch a worker process went
on with the version it imported first, and inline functions (the engine's own
process) until a restart. Here the engine process looks at the folders' ``.py`` files
now and then and counts a change as a new *lib version*; each call carries that
version, and the process running it (a worker, or the engine's own for ``isolation:
inline``) forgets its lib modules when the version moved
(``engine._function_worker.use_libs``), so the next import reads the files again.

A look runs on a thread of its own, never on the event loop: a ``lib/`` made by ``pip
install --target lib`` holds some 15,000 files and folders (80 ms a look), and one
reaching ``/usr/lib`` millions. A look is bounded (:data:`MOST_ENTRIES`; past it the
folder is no longer watched, said once in the log), follows no symlinked folder (so
no cycle), and its cost sets the time to the next one (:data:`LOOK_SHARE`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("flowyard.function_libs")

#: The shortest time between two looks at the lib folders, in seconds: a call made
#: this long after a file was saved uses it (for a small ``lib/``). A call in
#: between costs a clock read and a comparison.
LOOK_EVERY_S = 0.05
#: The most of the time looks may take: a look that took ``t`` is followed by the
#: next ``t / LOOK_SHARE`` after it started at the soonest (80 ms for 15,000
#: entries: 1.6 s).
LOOK_SHARE = 0.05
#: Files and folders a look at one lib folder reads at most (a ``pip install
#: --target`` of flowyard's own dependencies is 15,000). Past it the folder is no
#: longer watched: a change there is used after a restart.
MOST_ENTRIES = 50_000

#: path → (mtime_ns, ctime_ns, size) of every ``.py`` file under a lib folder.
Fingerprint = dict[str, tuple[int, int, int]]


def lib_folders(workflow_file: str | Path, roots: Sequence[Path]) -> list[str]:
    """The ``lib/`` folders a workflow's functions import from, those that exist:
    the one beside its file, and the one in the folder above, only when that folder
    is one of ``roots`` (the workflows folder, the workspace) or inside one.

    Only within them: for ``/tmp/x.yaml`` the folder above is ``/``, and ``/lib`` is
    the system's (a walk of it never ended). ``/lib`` is never one, even beside a
    file in ``/``."""
    here = Path(workflow_file).resolve().parent
    found = [here / "lib"]
    up = here.parent
    if up != here and any(up == root or root in up.parents for root in _resolved(roots)):
        found.append(up / "lib")
    return [str(d) for d in found if d.parent != d.parent.parent and d.is_dir()]


def _resolved(roots: Sequence[Path]) -> list[Path]:
    return [Path(root).resolve() for root in roots]


def fingerprint(folder: str, most: int | None = None) -> Fingerprint | None:
    """The ``.py`` files under ``folder`` (packages too; not ``__pycache__``, hidden
    folders or symlinked folders) and what tells one version of each from the next;
    None when it holds more than ``most`` files and folders (:data:`MOST_ENTRIES`).
    The change time is in it because ``cp -p`` or ``rsync -t`` can set the
    modification time back. A symlinked folder is not entered: ``lib/up -> ..``
    would be a cycle, and one such link in ``/usr/lib/llvm-14`` made the walk grow
    without end."""
    most = MOST_ENTRIES if most is None else most
    found: Fingerprint = {}
    pending = [folder]
    seen = 0
    while pending:
        try:
            with os.scandir(pending.pop()) as listing:
                entries = list(listing)
        except OSError:  # gone meanwhile: its files are gone too
            continue
        seen += len(entries)
        if seen > most:
            return None
        for entry in entries:
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.name.endswith(".py"):
                    st = entry.stat()  # a symlinked file: its target's
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


@dataclass(frozen=True)
class _Look:
    folders: frozenset[str]
    done: concurrent.futures.Future[None]


#: A folder looked at before whose fingerprint is not kept: it grew past MOST_ENTRIES.
_NOT_WATCHED = None
_NEW = object()


class LibraryWatch:
    """The lib version: a counter that moves when a ``.py`` file under a lib folder
    seen so far is added, removed or changed."""

    def __init__(self) -> None:
        self.version = 0
        self._folders: dict[str, Fingerprint | None] = {}
        self._next_look = 0.0
        self._lock = threading.Lock()
        self._look: _Look | None = None

    async def current(self, folders: list[str]) -> int:
        """The lib version for a call importing from ``folders``: as of a look made
        at most :data:`LOOK_EVERY_S` (longer for a big folder) before the call. A
        folder not seen before is looked at first. The look runs on its thread; a
        call arriving meanwhile waits for the same look."""
        if time.monotonic() < self._next_look:
            known = self._folders
            for folder in folders:
                if folder not in known:
                    break
            else:  # the hot path: a plain loop, no set built per call
                return self.version
        while True:
            look = self._join_or_start(folders)
            # Shielded: a call cancelled meanwhile must not cancel the look that
            # other calls wait for.
            await asyncio.shield(asyncio.wrap_future(look.done))
            if look.folders.issuperset(folders):
                return self.version

    def _join_or_start(self, folders: list[str]) -> _Look:
        with self._lock:
            look = self._look
            if look is not None and not look.done.done():
                return look  # not all of ``folders`` in it: the caller waits for the next
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            done.set_running_or_notify_cancel()  # never cancelled: waiters share it
            look = self._look = _Look(frozenset(self._folders).union(folders), done)
        # A daemon thread: a look at a folder on a hung network mount cannot hold
        # up the process's exit.
        threading.Thread(
            target=self._look_at, args=(look,), name="flowyard-lib-watch", daemon=True
        ).start()
        return look

    def _look_at(self, look: _Look) -> None:
        try:
            started = time.monotonic()
            self._compare(look.folders)
            took = time.monotonic() - started
            # From its start: with LOOK_SHARE 1 and LOOK_EVERY_S 0 (tests), every
            # call made after a look ended gets a look of its own.
            self._next_look = started + max(LOOK_EVERY_S, took / LOOK_SHARE)
        except BaseException as exc:  # noqa: BLE001 - said in the log; calls go on
            log.exception("looking at the lib folders failed")
            look.done.set_exception(exc)
            return
        look.done.set_result(None)

    def _compare(self, folders: frozenset[str]) -> None:
        changed: set[str] = set()
        moved = False
        for folder in sorted(folders):
            before = self._folders.get(folder, _NEW)
            if before is _NOT_WATCHED:
                continue
            after = fingerprint(folder)
            if after is None:
                self._folders[folder] = _NOT_WATCHED
                moved = before is not _NEW  # it grew: files were added
                log.warning(
                    "lib folder %s holds more than %d files and folders: changes to its "
                    "modules are no longer noticed, a restart uses them "
                    "(docs/blocks/function.md)",
                    folder, MOST_ENTRIES,
                )  # fmt: skip
                continue
            if before is not _NEW and after != before:
                assert isinstance(before, dict)
                changed |= {
                    p for p in before.keys() | after.keys() if before.get(p) != after.get(p)
                }
            self._folders[folder] = after  # a new folder: a call's first version
        if changed:
            _drop_bytecode(changed)
        if changed or moved:
            self.version += 1


#: One per process: the version numbers a process's calls carry must mean the same
#: files for every runtime in it (inline functions share the process's modules).
WATCH = LibraryWatch()
