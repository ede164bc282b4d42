"""The workflows folder: names, paths, loading (cached by mtime), webhook lookup."""

from __future__ import annotations

from pathlib import Path

from engine.model import BlockModel, Problem, Workflow, WorkflowError, load_file

WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")


class WorkflowStore:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[Path, tuple[float, Workflow]] = {}

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
        path = path.strip("/")
        for name in self.names():
            try:
                wf = self.load(name)
            except WorkflowError:
                continue
            for b in wf.blocks.values():
                if b.type == "webhook" and str(b.config.get("path", "")).strip("/") == path:
                    if str(b.config.get("method", "POST")).upper() == method.upper():
                        return wf, b
        return None
