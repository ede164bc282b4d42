"""Workflow files in the workflows folder: list, find, read, validate, save, delete.

A workflow's URL name is its file stem (``workflows/orders.yaml`` → ``orders``);
names are restricted so a URL can never point outside the folder.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import blocks  # noqa: F401 - registers the block types the validator and palette need
from engine.model import too_big
from engine.workflow_folder import (
    NAME_RULE,
    IgnoredFile,
    find_workflow,
    list_folder,
    valid_name,
)
from engine.workflow_text import parse, render, update_text
from engine.workflows import FileVersion, file_version

__all__ = ["NAME_RULE", "parse", "render", "update_text", "valid_name"]  # from the engine

if TYPE_CHECKING:
    from engine.workflows import WorkflowStore


def find(workflows_dir: Path, name: str) -> Path | None:
    return find_workflow(workflows_dir, name)  # the file the engine runs by that name


def find_by_title(workflows_dir: Path, title: str) -> Path | None:
    """The file whose ``name:`` is ``title`` (runs record the workflow's name, not its file).

    When several have it, the first by stem, as the engine's WorkflowStore picks
    (and logs the clash when it loads them)."""
    for p in sorted(list_files(workflows_dir), key=lambda p: p.stem):
        if summary(p).get("title") == title:
            return p
    return None


def list_files(workflows_dir: Path) -> list[Path]:
    """The workflow files, by name: the ones the engine loads (engine/workflow_folder.py)."""
    return list(list_folder(workflows_dir).workflows.values())


def ignored_files(workflows_dir: Path) -> list[IgnoredFile]:
    """Workflow files the engine does not load (``Ünï.yaml``, ``my flow.yaml``, a
    ``twin.json`` beside ``twin.yaml``), with the reason: listed where the workflows
    are, since they were left out without a word."""
    return list_folder(workflows_dir).ignored


#: Summaries by file and file version: the runs list and the index ask for every
#: file's on each call (the runs page polls every 3 s), and parsing 500 files took
#: seconds of CPU per call. A file is read again only once it changed.
_SUMMARIES: dict[Path, tuple[FileVersion, dict[str, Any]]] = {}
_SUMMARIES_KEPT = 10_000


def summary(path: Path) -> dict[str, Any]:
    """Name, title and trigger of a workflow file, without failing on a broken one."""
    try:
        version = file_version(path)
    except OSError:
        return {"name": path.stem, "file": path.name, "title": path.stem, "broken": True}
    hit = _SUMMARIES.get(path)
    if hit is None or hit[0] != version:
        if len(_SUMMARIES) >= _SUMMARIES_KEPT:
            _SUMMARIES.clear()
        hit = _SUMMARIES[path] = (version, _summary(path))
    return dict(hit[1])


def _summary(path: Path) -> dict[str, Any]:
    info: dict[str, Any] = {"name": path.stem, "file": path.name, "title": path.stem}
    if too_big(path):  # never parsed (engine.model.MAX_FILE_BYTES): loading says why
        info["broken"] = True
        return info
    try:
        doc = parse(path.read_text(encoding="utf-8"), path.name)
    except (OSError, ValueError):
        info["broken"] = True
        return info
    info["title"] = str(doc.get("name") or path.stem)
    info["description"] = str(doc.get("description") or "")
    doc_blocks = doc.get("blocks") if isinstance(doc.get("blocks"), dict) else {}
    info["blocks"] = len(doc_blocks)
    types = [b.get("type") for b in doc_blocks.values() if isinstance(b, dict)]
    info["trigger"] = next((t for t in types if t in ("webhook", "schedule", "manual")), None)
    return info


def summaries(workflows_dir: Path, store: WorkflowStore) -> list[dict[str, Any]]:
    """Each workflow file's summary, with ``invalid`` (its first problem) for a file
    that parses but does not load."""
    items = []
    for path in list_files(workflows_dir):
        item = summary(path)
        if not item.get("broken") and (why := why_invalid(store, path)) is not None:
            item["invalid"] = why
        items.append(item)
    return items


def why_invalid(store: WorkflowStore, path: Path) -> str | None:
    """The first problem of a workflow file that parses but does not load, by its file
    name (None: it loads, or it is gone). Such a file's webhooks answer 503, its
    schedules stop and its runs are refused: the lists say so, where it looked like
    any other. The store keeps each file version's load, so a list reads no file twice."""
    from dataclasses import replace

    from engine.model import WorkflowError

    try:
        store.load(path)
    except WorkflowError as exc:
        if not exc.problems:
            return str(exc)
        return str(replace(exc.problems[0], file=path.name))
    except OSError:
        return None
    return None


def validate(
    doc: dict[str, Any],
    file: str,
    folder: WorkflowStore | None = None,
    *,
    was_named: str | None = None,
) -> list[dict[str, Any]]:
    """Every problem the engine finds, as dicts; an empty list means valid (see ``check``)."""
    return check(doc, file, folder, was_named=was_named)[0]


def unshown(text: str, file: str) -> list[dict[str, Any]]:
    """What the file holds that its document (the JSON the editor is given) cannot:
    a key that is not text, a merge key, the first of a key given twice, a tag or a
    NaN read as text. A save of a document over that file would drop it unseen, so
    it is refused until the file is fixed by hand. Unparseable text: nothing here."""
    from engine.strict_load import load_json, load_yaml

    try:
        loaded = load_json(text) if file.endswith(".json") else load_yaml(text)
    except Exception:  # noqa: BLE001 - a file that does not parse is the editor's to refuse
        return []
    return [
        {
            "file": file,
            "block": f.block,
            "field": f.field,
            "message": f"{f.message}; the editor cannot show this and saving over it "
            "would lose it: fix it in the file first",
        }
        for f in loaded.found
    ]


def check(
    doc: dict[str, Any],
    file: str,
    folder: WorkflowStore | None = None,
    *,
    was_named: str | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(problems, warnings) of a document about to be saved as ``file``, as dicts.

    With ``folder`` (the runtime's WorkflowStore), also a webhook path and method
    another file of it already serves (the first file by name would take every
    delivery, silently), and a ``name:`` another file already has (a lookup by
    name would find one of them, and their runs would mix). ``was_named`` is the
    name the file has on disk: keeping it is no new clash but a warning, or two
    copies of a template could never be saved again."""
    from engine.model import WorkflowError
    from engine.validate import validate_document

    try:
        workflow = validate_document(doc, file)  # the document as given: no YAML round trip
    except WorkflowError as exc:
        return [p.to_dict() for p in exc.problems], []
    if folder is None:
        return [], []
    problems = folder.webhook_clashes(workflow)
    names = [p.to_dict() for p in folder.name_clashes(workflow)]
    if workflow.name == was_named:
        return [p.to_dict() for p in problems], names
    return [p.to_dict() for p in problems] + names, []


def write_atomic(path: Path, text: str) -> None:
    # Write-then-rename, so a crash mid-save never leaves half a workflow in git.
    # A symlinked workflow (`orders.yaml -> ../shared/orders.yaml`) is saved into the
    # file it links to, as a text editor saves it: renamed over the link, the save
    # replaced the link with a copy and the shared file kept the old text. (A link
    # to nothing is no workflow: a new one replaces it.)
    if path.is_symlink() and path.exists():
        path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:  # named by the file being saved, not a temporary name
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp makes the file 0600: a save took read access from everyone else
        # (a worker run as another user, a team's shared checkout). The file keeps
        # its mode; a new one gets what the umask gives.
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return _umask_mode()


def _umask_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
