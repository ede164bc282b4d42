"""What a template copy writes over files that may be the user's: the shared
``lib/`` (:func:`copy_lib`) and the SQL and README beside the copy's workflow file
(:func:`copy_beside`). A file the user edited is never replaced: it is kept, and
listed in the copy's changes (docs/templates.md)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
LIB = ROOT / "lib"
#: In a workspace's ``lib/``: the sha256 of each file as flowyard last wrote it, so a
#: later copy tells a file the user edited (kept) from one it wrote (updated).
LIB_MANIFEST = ".flowyard-lib.json"
#: The sha256 of every version of each ``lib/*.py`` flowyard shipped (rebuilt from
#: git by ``python -m templates.lib_shipped``): a workspace file holding one of them
#: is unedited, whether or not a manifest says flowyard wrote it.
LIB_SHIPPED = ROOT / "lib_shipped.json"


@dataclass(frozen=True)
class Change:
    """What a copy does differently from its template, and why (``message`` is the
    clash it avoids, as ``flowyard validate`` would have named it). ``field`` is
    ``name``, ``path`` (of ``block``), or a file of the user's that was kept
    (:attr:`kept_file`): ``lib/<file>``, a lib file the user edited, or
    ``<name>.<file>``, the copy's SQL or README left there differing from the
    template's (``was``/``now``: the sha256 of the template's and of the kept one)."""

    block: str | None
    field: str
    was: str
    now: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def kept_file(self) -> bool:
        """A file of the user's, kept (not the copy's workflow changed)."""
        return self.block is None and self.field != "name"

    def said(self) -> str:
        """The change in a sentence, as `flowyard new` prints it and the editor shows it."""
        if self.kept_file:
            return self.message
        now = (
            f"named {self.now!r}"
            if self.block is None
            else f"block {self.block!r} is on {self.now}"
        )
        return f"{self.message}: in the copy, {now}"


def copy_beside(files: dict[str, Path], workflows_dir: Path) -> list[Change]:
    """Copy each template file in ``files`` (by the name it gets in ``workflows_dir``:
    ``op2.schema.sql``) where that file is missing; return a change for each file
    there that differs from the template's, kept.

    A deleted workflow leaves its SQL and README (docs/api.md: they are the user's);
    a copy of that name again wrote the template's over them, and the user's edits
    (an index of their own, their team's notes) were gone without a word. One the
    same as the template's is no change; any other is kept, and said: an edit, or a
    copy of an earlier release (then compare it with the template's, as for lib/).
    """
    kept: list[Change] = []
    for name, source in files.items():
        dest = Path(workflows_dir) / name
        if not dest.exists():
            shutil.copyfile(source, dest)
            continue
        theirs, have = _sha256(source.read_bytes()), _sha256(dest.read_bytes())
        if have != theirs:
            message = (
                f"kept your {name}: it differs from the template's {source.name}, which was"
                f" not copied over it (compare it with {source})"
            )
            kept.append(Change(None, name, f"sha256:{theirs}", f"sha256:{have}", message))
    return kept


def copy_lib(workflows_dir: Path) -> list[Change]:
    """Bring ``<workflows_dir>/lib`` to the shipped ``templates/lib``, file by file,
    never over a user's edit; return a change for each file kept.

    A file is written when it is missing, still what flowyard last wrote there (its
    sha256 in :data:`LIB_MANIFEST`), or any version flowyard ever shipped (its sha256
    in :data:`LIB_SHIPPED`): unedited, from this or an older release. The second test
    alone kept every file of a workspace made before the manifest (or with it lost):
    the new copy then ran on the old lib, and failed reading what the old lib lacks.
    Any other content is the user's (the Order Processing README invites handlers
    for new event types in ``order_events.py``): replacing it would silently change
    the live reducer, so it is kept and reported. Files of the user's own (not
    shipped) are never touched.
    """
    dest = Path(workflows_dir) / "lib"
    dest.mkdir(parents=True, exist_ok=True)
    written = _read_lib_manifest(dest)
    released = _shipped_lib_sums()
    kept: list[Change] = []
    for f in sorted(LIB.iterdir()):
        if not (f.is_file() and f.suffix == ".py"):
            continue
        shipped = f.read_bytes()
        shipped_sum = _sha256(shipped)
        target = dest / f.name
        have = _sha256(target.read_bytes()) if target.is_file() else None
        unedited = have == written.get(f.name) or have in released.get(f.name, ())
        if have is None or (have != shipped_sum and unedited):
            _write_atomically(target, shipped)  # a run may import it meanwhile
        elif have != shipped_sum:
            message = (
                f"kept your edited lib/{f.name}: it is no version flowyard shipped, so the"
                " copy runs with yours, and may fail until you merge the template's changes"
                f" into it (compare it with {f})"
            )
            kept.append(
                Change(None, f"lib/{f.name}", f"sha256:{shipped_sum}", f"sha256:{have}", message)
            )
            continue  # its entry stays what flowyard wrote: a revert is recognised
        written[f.name] = shipped_sum
    _write_atomically(
        dest / LIB_MANIFEST, (json.dumps(written, indent=1, sort_keys=True) + "\n").encode()
    )
    return kept


def _shipped_lib_sums() -> dict[str, frozenset[str]]:
    """:data:`LIB_SHIPPED` read (empty when unreadable: then only the manifest tells
    flowyard's files, and a differing file is kept, the safe side)."""
    try:
        doc = json.loads(LIB_SHIPPED.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: frozenset(v) for k, v in doc.items() if isinstance(v, list)}


def _read_lib_manifest(lib: Path) -> dict[str, str]:
    """What flowyard wrote into ``lib`` (empty when unreadable: then every differing
    file is kept, the safe side)."""
    try:
        doc = json.loads((lib / LIB_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {k: v for k, v in doc.items() if isinstance(k, str) and isinstance(v, str)}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # not left in lib/ when the file could not be written
        raise
