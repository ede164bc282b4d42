"""The workflows folder: names, paths, loading (cached per file version), webhook lookup.

Only the folder's workflows are loaded by name, for webhooks and for schedules: a
file it ignores (engine/workflow_folder.py: `my flow.yaml`) is logged once instead.

Two files may not share a webhook path and method, nor a ``name:``: saving or
validating such a pair is refused. A pair already on disk (edited by hand, two
copies of a template) is logged when loaded; lookups by ``name:`` then take the
first file by file name, as deliveries to a shared webhook path do.

A file that stops loading (a typo saved while serving) keeps its webhook paths
known as *broken*: deliveries there are refused with a 503 the sender retries, not a
404 many senders take as final — the events arrive once the file is fixed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import yaml

from engine.model import BlockModel, Problem, Workflow, WorkflowError, load_file, too_big
from engine.suggest import did_you_mean
from engine.workflow_folder import WORKFLOW_SUFFIXES, IgnoredFile, find_workflow, list_folder

Route = tuple[str, str]  # (path, METHOD) of a webhook, as deliveries are matched

log = logging.getLogger("flowyard.workflows")


class WorkflowStore:
    #: How long the webhook route table is trusted before the folder is looked at
    #: again: a delivery must not stat every workflow file.
    INDEX_TTL_S = 1.0

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[Path, tuple[FileVersion, Workflow]] = {}
        # Files whose current version does not load: the error, and the webhook routes
        # their text still declares (None: it does not parse). Read once per version,
        # not again on every rebuild of the route table.
        self._failed: dict[Path, tuple[FileVersion, WorkflowError, list[Route] | None]] = {}
        self._hooks: dict[tuple[str, str], tuple[Workflow, BlockModel]] = {}
        self._broken: dict[tuple[str, str], str] = {}  # route → file that no longer loads
        self._broken_said: set[tuple[str, FileVersion]] = set()
        self._hooks_at = -1e9
        self._folder_mtime = 0
        self._clashes_said: set[tuple[str, frozenset[str]]] = set()  # logged once each
        self._ignored_said: set[IgnoredFile] = set()

    def names(self) -> list[str]:
        """The workflows of the folder, by name: not the files it ignores
        (engine/workflow_folder.py), which are logged once each instead."""
        listing = list_folder(self.folder)
        self._say_ignored(listing.ignored)
        return list(listing.workflows)

    def path(self, name: str) -> Path:
        """The file of the workflow ``name``; where a new one would be written if none."""
        return find_workflow(self.folder, name) or self.folder / f"{name}.yaml"

    def load(self, name_or_path: str | Path) -> Workflow:
        """A workflow by file path or by name in the folder; re-read when the file changes."""
        p: Path | None = Path(name_or_path)
        if not (p.suffix in WORKFLOW_SUFFIXES and _is_there(p)):
            # By name, only a workflow of the folder: never a file it ignores.
            p = find_workflow(self.folder, str(name_or_path))
        if p is None:
            by_name = self._by_display_name(str(name_or_path))
            if by_name is not None:
                return by_name
            raise WorkflowError(
                [
                    Problem(
                        f"no workflow named {str(name_or_path)!r} in {self.folder}"
                        + did_you_mean(str(name_or_path), self.names()),
                        str(self.path(str(name_or_path))),
                    )
                ]
            )
        version = file_version(p)
        hit = self._cache.get(p)
        if hit is None or hit[0] != version:
            failed = self._failed.get(p)
            if failed is not None and failed[0] == version:
                raise failed[1]
            try:
                hit = (version, load_file(p))
            except WorkflowError as exc:
                self._failed[p] = (version, exc, _declared_routes(p))
                raise
            self._failed.pop(p, None)
            self._cache[p] = hit
            self._say_shared_name(hit[1])
        return hit[1]

    def _say_ignored(self, ignored: list[IgnoredFile]) -> None:
        """Log, once per file and reason, a file of the folder that is not loaded:
        it looks like a workflow, and nothing else would tell why it never runs."""
        for item in ignored:
            if item not in self._ignored_said:
                self._ignored_said.add(item)
                log.warning("%s in %s is ignored: %s", item.file, self.folder, item.why)

    def _by_display_name(self, name: str) -> Workflow | None:
        """A workflow whose ``name:`` (not its file name) is ``name``: the first file
        by file name when several have it (each load says so, see _say_shared_name)."""
        for wf in self._loadable():
            if wf.name == name:
                return wf
        return None

    def say_shared_name(self, workflow: Workflow) -> None:
        """Log (once) that another file of the folder has ``workflow``'s ``name:``.
        Reads every file of the folder (cached), so a clash is seen whichever way
        ``workflow`` was found."""
        self._loadable()
        self._say_shared_name(workflow)

    def _say_shared_name(self, workflow: Workflow) -> None:
        """Log, once per set of files, that ``workflow``'s ``name:`` is another loaded
        file's too. Only the cache is looked at (no extra reads): serving loads every
        file soon after start (schedules, webhooks), and a lookup by name loads all."""
        folder = self.folder.resolve()
        # In the order lookups try them: by stem, as names() lists the folder.
        files = sorted(
            {
                p.name
                for p, (version, wf) in self._cache.items()
                if wf.name == workflow.name and p.resolve().parent == folder and _same(p, version)
            },
            key=lambda f: (Path(f).stem, f),
        )
        key = (workflow.name, frozenset(files))
        if len(files) < 2 or key in self._clashes_said:
            return
        self._clashes_said.add(key)
        log.warning(
            "workflow name %r is in %s files of %s: %s. A lookup by that name uses %s "
            "(the first by file name), and their runs are recorded under one name; "
            "give each file its own `name:`",
            workflow.name,
            len(files),
            self.folder,
            ", ".join(files),
            files[0],
        )

    def find_webhook(self, path: str, method: str = "POST") -> tuple[Workflow, BlockModel] | None:
        key = (path.strip("/"), method.upper())
        now = time.monotonic()
        # Rebuilt when stale, or on a miss after files were added or renamed (the
        # folder's mtime moved), so a new workflow answers at once.
        if now - self._hooks_at > self.INDEX_TTL_S or (
            key not in self._hooks and self._folder_changed()
        ):
            self._hooks = self._webhook_index()
            self._hooks_at = now
        return self._hooks.get(key)

    def broken_webhook(self, path: str, method: str = "POST") -> str | None:
        """The file whose webhook this route is but which no longer loads, as of the
        last :meth:`find_webhook`; None when no such file declares it."""
        return self._broken.get((path.strip("/"), method.upper()))

    def _folder_changed(self) -> bool:
        try:
            mtime = self.folder.stat().st_mtime_ns
        except OSError:
            return False
        changed, self._folder_mtime = mtime != self._folder_mtime, mtime
        return changed

    def _webhook_index(self) -> dict[tuple[str, str], tuple[Workflow, BlockModel]]:
        index: dict[tuple[str, str], tuple[Workflow, BlockModel]] = {}
        failing: list[tuple[Path, WorkflowError]] = []
        for name in self.names():
            try:
                wf = self.load(name)
            except WorkflowError as exc:
                failing.append((self.path(name), exc))
                continue
            for key, b in webhook_keys(wf):
                first = index.setdefault(key, (wf, b))  # the first file (by name) wins
                if first[0] is not wf:
                    self._say_shared_route(key, first[0], wf)
        broken: dict[tuple[str, str], str] = {}
        for file, exc in failing:  # a route a loading file serves is not down
            routes = [k for k in self._routes_of_broken(file) if k not in index]
            self._say_broken(file, exc, routes)
            for key in routes:
                broken.setdefault(key, file.name)
        self._broken = broken
        return index

    def _say_shared_route(self, key: tuple[str, str], first: Workflow, other: Workflow) -> None:
        """Log, once per pair of files, a webhook route two files declare: only the
        first by file name receives its deliveries."""
        said = (f"{key[1]} /webhooks/{key[0]}", frozenset((first.file, other.file)))
        if said in self._clashes_said:
            return
        self._clashes_said.add(said)
        log.warning(
            "%s is the webhook of %s and of %s: deliveries go to %s (the first by file "
            "name); give each its own path",
            said[0],
            Path(first.file).name,
            Path(other.file).name,
            Path(first.file).name,
        )

    def _routes_of_broken(self, file: Path) -> list[Route]:
        """The webhook routes a file that does not load meant to serve: what its text
        still says when it parses, else what its last good version (cached) said."""
        failed = self._failed.get(file)
        routes = failed[2] if failed is not None else None
        if routes is None:
            cached = self._cache.get(file)
            routes = [key for key, _ in webhook_keys(cached[1])] if cached else []
        return routes

    def _say_broken(self, file: Path, exc: WorkflowError, routes: list[tuple[str, str]]) -> None:
        """Log, once per version of the file, the webhooks it takes down."""
        try:
            version = (str(file), file_version(file))
        except OSError:
            return
        if routes and version not in self._broken_said:
            self._broken_said.add(version)
            log.error(
                "%s does not load, so its webhooks (%s) answer 503 until it is fixed: %s",
                file,
                ", ".join(f"{m} /webhooks/{p}" for p, m in routes),
                exc.problems[0] if exc.problems else exc,
            )

    def _loadable(self) -> list[Workflow]:
        out = []
        for name in self.names():
            try:
                out.append(self.load(name))
            except WorkflowError:
                continue
        return out

    def name_clashes(self, workflow: Workflow) -> list[Problem]:
        """The ``name:`` of ``workflow`` when another file of the folder has it: a
        lookup by name would find one of them, and their runs would mix."""
        own = Path(workflow.file).name
        taken = next(
            (
                Path(other.file).name
                for other in self._loadable()
                if other.name == workflow.name and Path(other.file).name != own
            ),
            None,
        )
        if taken is None:
            return []
        return [name_clash(workflow, taken)]

    def webhook_clashes(self, workflow: Workflow) -> list[Problem]:
        """Webhook blocks of ``workflow`` whose path and method another file of the
        folder already serves: only one of the two would ever receive deliveries."""
        own = Path(workflow.file).name
        taken: dict[tuple[str, str], str] = {}
        for other in self._loadable():
            if Path(other.file).name != own:
                for key, _ in webhook_keys(other):
                    taken.setdefault(key, Path(other.file).name)
        return [
            Problem(
                f"{method} /webhooks/{path} is already the webhook of {taken[(path, method)]}",
                workflow.file,
                b.id,
                "path",
            )
            for (path, method), b in webhook_keys(workflow)
            if (path, method) in taken
        ]


def webhook_keys(workflow: Workflow) -> list[tuple[tuple[str, str], BlockModel]]:
    """(path, METHOD) of each webhook block, as deliveries are matched."""
    return [
        ((str(b.config.get("path", "")).strip("/"), str(b.config.get("method", "POST")).upper()), b)
        for b in workflow.blocks.values()
        if b.type == "webhook"
    ]


def _declared_routes(file: Path) -> list[Route] | None:
    """(path, METHOD) of each webhook block a workflow file declares, read leniently
    (it failed validation); None when its text does not even parse, or is too big to
    read (engine.model.too_big: parsing it is what must not happen)."""
    if too_big(file):
        return None
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))  # JSON parses as YAML too
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    blocks = doc.get("blocks") if isinstance(doc, dict) else None
    if not isinstance(blocks, dict):
        return None
    return [
        (str(b.get("path", "")).strip("/"), str(b.get("method", "POST")).upper())
        for b in blocks.values()
        if isinstance(b, dict) and b.get("type") == "webhook"
    ]


#: What tells one version of a file from the next: the modification time, the
#: change time (which `cp -p`, `rsync -t` or `touch -r` cannot set back) and the size.
FileVersion = tuple[int, int, int]


def file_version(path: Path) -> FileVersion:
    st = path.stat()
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size


def _same(path: Path, version: FileVersion) -> bool:
    """Whether the file is still there as it was cached (not since edited or deleted)."""
    try:
        return file_version(path) == version
    except OSError:
        return False


def name_clash(workflow: Workflow, taken_by: str) -> Problem:
    """The problem of ``workflow`` having the ``name:`` that file ``taken_by`` has."""
    return Problem(
        f"workflow name {workflow.name!r} is already the name of {taken_by}",
        workflow.file,
        None,
        "name",
    )


def _is_there(p: Path) -> bool:
    """Whether ``p`` exists; a name the file system refuses (`File name too long`)
    is no file, not an OSError: `GET /api/runs?workflow=` with one was a 500, and
    `flowyard runs --workflow` and `flowyard run` a traceback."""
    try:
        return p.exists()
    except OSError:
        return False
