"""Which files of the workflows folder are workflows: the one rule the engine (webhooks,
schedules, `flowyard run`) and the API and pages (lists, lookups by name) all apply.

A workflow is a ``.yaml``, ``.yml`` or ``.json`` file whose stem is a workflow name
(:data:`NAME_RULE`). Any other such file is *ignored*, with the reason: one no name
can address (``my flow.yaml``), and one whose stem another file already has
(``twin.json`` beside ``twin.yaml``: the suffix earlier in :data:`WORKFLOW_SUFFIXES`
is the workflow). An ignored file serves no webhook, runs no schedule and is found
by no name; loading it anyway (it served a webhook the API could not even open) let
a copy nobody could see take over another workflow's deliveries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: In the order a name is looked up: ``twin.yaml`` is the workflow ``twin``, not
#: ``twin.json`` beside it.
WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")
#: The workflow names the API and pages can address (a file stem that can never
#: point outside the folder, docs/ui-security.md), and that rule in words: the one
#: message of the API, the pages and `flowyard new`.
WORKFLOW_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,99}")
NAME_RULE = "letters, digits, '_' and '-', starting with a letter or digit, at most 100 characters"


def valid_name(name: object) -> bool:
    # fullmatch: with match, `$` also matched before a trailing newline ("a\n").
    return isinstance(name, str) and bool(WORKFLOW_NAME_RE.fullmatch(name))


@dataclass(frozen=True)
class IgnoredFile:
    """A file of the folder that looks like a workflow file but is not loaded."""

    file: str  # its file name, as the folder lists it
    why: str


@dataclass(frozen=True)
class FolderListing:
    workflows: dict[str, Path] = field(default_factory=dict)  # by name, sorted by name
    ignored: list[IgnoredFile] = field(default_factory=list)  # sorted by file name


def find_workflow(folder: Path, name: str) -> Path | None:
    """The file of the workflow ``name`` in ``folder``; None when there is none (or
    ``name`` is no workflow name). A lookup, not a listing: one stat per suffix, in
    the order :func:`list_folder` keeps a file of two sharing a stem."""
    if not valid_name(name):
        return None
    for suffix in WORKFLOW_SUFFIXES:
        p = folder / f"{name}{suffix}"
        if p.is_file():
            return p
    return None


def list_folder(folder: Path) -> FolderListing:
    """The workflows of ``folder`` by name, and the files it ignores with the reason."""
    if not folder.is_dir():
        return FolderListing()
    workflows: dict[str, Path] = {}
    ignored: list[IgnoredFile] = []
    # By stem, then in suffix order: the file kept is the one a lookup by name finds
    # (sorted by full name, `twin.json` came before `twin.yaml`).
    candidates = (p for p in folder.iterdir() if p.suffix in WORKFLOW_SUFFIXES)
    for p in sorted(candidates, key=lambda p: (p.stem, WORKFLOW_SUFFIXES.index(p.suffix))):
        if not p.is_file():
            continue
        if not valid_name(p.stem):
            why = f"its file name is not a workflow name ({NAME_RULE}); rename it to load it"
            ignored.append(IgnoredFile(p.name, why))
        elif p.stem in workflows:
            kept = workflows[p.stem].name
            why = (
                f"{kept} is the workflow {p.stem!r}, read before a {p.suffix} file of that"
                " name; rename or delete one of them"
            )
            ignored.append(IgnoredFile(p.name, why))
        else:
            workflows[p.stem] = p
    ignored.sort(key=lambda i: i.file)
    return FolderListing(dict(sorted(workflows.items())), ignored)
