"""Workflow files in the workflows folder: list, find, read, validate, save, delete.

A workflow's URL name is its file stem (``workflows/orders.yaml`` → ``orders``);
names are restricted so a URL can never point outside the folder.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

import blocks  # noqa: F401 - registers the block types the validator and palette need

# libyaml's loader when present: a 300-block file parses several times faster.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,99}$")
SUFFIXES = (".yaml", ".yml", ".json")


def valid_name(name: str) -> bool:
    # fullmatch: with match, `$` also matched before a trailing newline ("a\n").
    return bool(NAME_RE.fullmatch(name))


def find(workflows_dir: Path, name: str) -> Path | None:
    if not valid_name(name):
        return None
    for suffix in SUFFIXES:
        p = workflows_dir / f"{name}{suffix}"
        if p.is_file():
            return p
    return None


def find_by_title(workflows_dir: Path, title: str) -> Path | None:
    """The file whose ``name:`` is ``title`` (runs record the workflow's name, not its file)."""
    for p in list_files(workflows_dir):
        if summary(p).get("title") == title:
            return p
    return None


def list_files(workflows_dir: Path) -> list[Path]:
    if not workflows_dir.is_dir():
        return []
    seen: dict[str, Path] = {}
    for p in sorted(workflows_dir.iterdir()):
        if p.suffix in SUFFIXES and p.is_file() and valid_name(p.stem):
            seen.setdefault(p.stem, p)
    return list(seen.values())


def summary(path: Path) -> dict[str, Any]:
    """Name, title and trigger of a workflow file, without failing on a broken one."""
    info: dict[str, Any] = {"name": path.stem, "file": path.name, "title": path.stem}
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


def parse(text: str, file: str = "") -> dict[str, Any]:
    """YAML or JSON text to a mapping; any syntax error is a ValueError."""
    try:
        doc = json.loads(text) if file.endswith(".json") else yaml.load(text, Loader=_Loader)  # noqa: S506 (safe loader)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(doc, dict):
        raise ValueError("a workflow file must be a mapping")
    return doc


def render(doc: dict[str, Any], suffix: str) -> str:
    """Serialize with stable key order and ``layout`` last (YAML via the engine)."""
    from engine.model import dump_yaml

    if suffix == ".json":
        text = dump_yaml(doc)  # reuse the engine's ordering, then emit JSON
        return json.dumps(yaml.safe_load(text), indent=2, ensure_ascii=False) + "\n"
    return dump_yaml(doc)


def validate(doc: dict[str, Any], file: str) -> list[dict[str, Any]]:
    """Every problem the engine finds, as dicts; an empty list means valid."""
    from engine.model import WorkflowError
    from engine.validate import validate_document

    try:
        validate_document(doc, file)  # the document as given: no YAML round trip
    except WorkflowError as exc:
        return [p.to_dict() for p in exc.problems]
    return []


def write_atomic(path: Path, text: str) -> None:
    # Write-then-rename, so a crash mid-save never leaves half a workflow in git.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
