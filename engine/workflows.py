"""The workflows folder: names, paths, loading (cached by mtime), webhook lookup."""

from __future__ import annotations

import time
from pathlib import Path

from engine.model import BlockModel, Problem, Workflow, WorkflowError, load_file

WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")


class WorkflowStore:
    #: How long the webhook route table is trusted before the folder is looked at
    #: again: a delivery must not stat every workflow file.
    INDEX_TTL_S = 1.0

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[Path, tuple[float, Workflow]] = {}
        self._hooks: dict[tuple[str, str], tuple[Workflow, BlockModel]] = {}
        self._hooks_at = -1e9
        self._folder_mtime = 0

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(
            p.stem for p in self.folder.iterdir() if p.suffix in WORKFLOW_SUFFIXES and p.is_file()
        )

    def path(self, name: str) -> Path:
        for suffix in WORKFLOW_SUFFIXES:
            p = self.folder / f"{name}{suffix}"
            if p.exists():
                return p
        return self.folder / f"{name}.yaml"

    def load(self, name_or_path: str | Path) -> Workflow:
        """A workflow by file path or by name in the folder; re-read when the file changes."""
        p = Path(name_or_path)
        if not (p.suffix in WORKFLOW_SUFFIXES and p.exists()):
            p = self.path(str(name_or_path))
        if not p.exists():
            by_name = self._by_display_name(str(name_or_path))
            if by_name is not None:
                return by_name
            raise WorkflowError(
                [Problem(f"no workflow named {str(name_or_path)!r} in {self.folder}", str(p))]
            )
        mtime = p.stat().st_mtime
        hit = self._cache.get(p)
        if hit is None or hit[0] != mtime:
            hit = (mtime, load_file(p))
            self._cache[p] = hit
        return hit[1]

    def _by_display_name(self, name: str) -> Workflow | None:
        """A workflow whose ``name:`` (not its file name) is ``name``."""
        for stem in self.names():
            try:
                wf = self.load(stem)
            except WorkflowError:
                continue
            if wf.name == name:
                return wf
        return None

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

    def _folder_changed(self) -> bool:
        try:
            mtime = self.folder.stat().st_mtime_ns
        except OSError:
            return False
        changed, self._folder_mtime = mtime != self._folder_mtime, mtime
        return changed

    def _webhook_index(self) -> dict[tuple[str, str], tuple[Workflow, BlockModel]]:
        index: dict[tuple[str, str], tuple[Workflow, BlockModel]] = {}
        for wf in self._loadable():
            for key, b in webhook_keys(wf):
                index.setdefault(key, (wf, b))  # the first file (by name) wins a clash
        return index

    def _loadable(self) -> list[Workflow]:
        out = []
        for name in self.names():
            try:
                out.append(self.load(name))
            except WorkflowError:
                continue
        return out

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
