"""Shipped workflow templates: list them, copy one into a workspace, find their SQL.

A template is a folder under ``templates/`` with a ``workflow.yaml`` (its
``name`` and ``description`` are the listing's), an optional ``README.md`` and
optional SQL. Templates share Python code through ``templates/lib/``; a Function
block finds it because the engine adds ``<workflow dir>/lib`` to the import path,
so :func:`instantiate` copies ``lib/`` next to the workflow file (never over a
file the user edited: :func:`copy_lib`).
"""

from __future__ import annotations

import copy
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from engine.folder_lock import workflows_folder_locked
from engine.suggest import did_you_mean
from engine.workflow_folder import NAME_RULE, find_workflow, valid_name
from templates._user_files import (  # noqa: F401  (imported from here by callers and tests)
    LIB,
    LIB_MANIFEST,
    LIB_SHIPPED,
    Change,
    copy_beside,
    copy_lib,
)

ROOT = Path(__file__).resolve().parent
#: SQL files of a template that ``flowyard db init`` applies; the analytics
#: queries are read-only examples and are copied, not applied.
_SCHEMA_NAMES = ("schema.sql",)

#: Templates that run on another template's tables: the agent variants read and
#: write the Order Processing event store. (Replay Events has a schema.sql of its
#: own: a link to that same file, so there is one event store to keep right.)
_USES_SCHEMA_OF: dict[str, tuple[str, ...]] = {
    "order_processing_agent": ("order_processing",),
    "replay_events_agent": ("order_processing",),
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _template_dirs() -> list[Path]:
    return sorted(p for p in ROOT.iterdir() if p.is_dir() and (p / "workflow.yaml").is_file())


def _read_header(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return doc if isinstance(doc, dict) else {}


def list_templates() -> list[dict[str, Any]]:
    """Every shipped template as ``{id, name, description, path}``, by id. ``path`` is
    relative to the templates folder (``order_processing/workflow.yaml``): the API
    answers it, and the install's own location is nobody's business there."""
    out = []
    for d in _template_dirs():
        doc = _read_header(d / "workflow.yaml")
        out.append(
            {
                "id": d.name,
                "name": str(doc.get("name") or d.name),
                "description": str(doc.get("description") or "").strip(),
                "path": f"{d.name}/workflow.yaml",
            }
        )
    return out


class UnknownTemplate(KeyError):
    """No shipped template has that id. A KeyError (callers catch that), but its
    text is the message itself: ``str(KeyError("m"))`` is ``"'m'"``, in quotes."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def template_dir(template_id: str) -> Path:
    d = ROOT / template_id
    if not _NAME_RE.match(template_id) or not (d / "workflow.yaml").is_file():
        ids = [t["id"] for t in list_templates()]
        hint = did_you_mean(template_id, ids)
        raise UnknownTemplate(f"unknown template {template_id!r}{hint} (known: {', '.join(ids)})")
    return d


@dataclass(frozen=True)
class TemplateCopy:
    path: Path
    title: str
    webhooks: list[tuple[str, str, str]]  # (block id, METHOD, path) as the copy serves them
    changes: list[Change]


def instantiate(template_id: str, workflows_dir: Path, name: str | None = None) -> Path:
    """Copy a template into ``workflows_dir`` and return the new workflow file
    (:func:`copy_template` also says what had to change)."""
    return copy_template(template_id, workflows_dir, name).path


def copy_template(
    template_id: str, workflows_dir: Path, name: str | None = None, store: Any = None
) -> TemplateCopy:
    """Copy a template into ``workflows_dir``.

    Writes ``<workflows_dir>/<name>.yaml`` (``name`` defaults to the template id),
    the template's SQL and README as ``<name>.<file>`` beside it, and refreshes
    ``<workflows_dir>/lib/`` with the shared Python the Function blocks import
    (a lib file the user edited is kept, and listed in ``changes``: :func:`copy_lib`).
    Refuses to overwrite an existing workflow file: it may hold the user's edits.

    The copy is the template byte for byte unless another workflow of the folder
    already serves one of its webhook paths or has its ``name:``: the first file
    by name would keep every delivery and lookup, silently. Then (only) those
    change: the path to ``<name>/<last segment>`` (``op_copy/events``), the name
    to ``<template name> (<name>)``; see docs/templates.md.

    ``store``: the server's :class:`~engine.workflows.WorkflowStore` of
    ``workflows_dir``, whose loaded workflows the clashes are looked for in (a new
    one parses and validates every file of the folder again: 11 s with 420 copies).
    """
    src = template_dir(template_id)
    stem = copy_stem(template_id, name)
    workflows_dir = Path(workflows_dir)
    # From the checks (the name free, no clash) to the last file written, as a save or
    # a delete holds it (in serve, or in another process: `flowyard new` beside serve):
    # two copies of one name both made it, and a copy replaced a save told it created
    # the file, or took the webhook path a save or another copy was just given.
    with workflows_folder_locked(workflows_dir):
        return _copy_unlocked(src, workflows_dir, stem, store)


class CopyNotWritten(Exception):
    """A template copy the file system refused (the workflows folder read-only or
    full, a folder where a file goes): the workflow file was not written, nor kept
    any file the copy had created before the refusal."""

    def __init__(self, exc: OSError) -> None:
        # A rename's second name is where the file was going; the first, a temporary one.
        self.file = str(exc.filename2 or exc.filename or "")
        self.reason = exc.strerror or type(exc).__name__
        where = f" {self.file}" if self.file else " the workflows folder"
        super().__init__(f"cannot write{where}: {self.reason}; nothing was copied")


def _copy_unlocked(src: Path, workflows_dir: Path, stem: str, store: Any) -> TemplateCopy:
    target = workflows_dir / f"{stem}.yaml"
    # Any suffix: a copy beside `<stem>.json` would be the workflow `<stem>` in its place.
    existing = find_workflow(workflows_dir, stem)
    if existing is not None:
        raise FileExistsError(f"{existing} already exists")
    text = (src / "workflow.yaml").read_text(encoding="utf-8")
    header = _read_header(src / "workflow.yaml")
    doc, changes, webhooks = _without_clashes(header, target, stem, store)
    if changes:  # only the changed lines rewritten: the copy keeps its comments
        from engine.workflow_text import render_update

        # URLs in descriptions and comments moved in the text itself, which keeps
        # their folded style; then the name and paths, field by field.
        text = render_update(_move_urls(text, _moved_paths(changes)), doc, ".yaml")
    beside = {
        f"{stem}.{extra.name}": extra
        for extra in sorted(src.iterdir())
        if extra.suffix in (".sql", ".md") and extra.is_file()
    }
    for sql in _shared_schema(src):  # the template's own file of that name first
        beside.setdefault(f"{stem}.{sql.name}", sql)
    lib = workflows_dir / "lib"
    had = _files_in(workflows_dir) | _files_in(lib)
    try:
        kept = copy_beside(beside, workflows_dir) + copy_lib(workflows_dir)
        # The workflow file last: it appears (to a serve reading the folder too) only
        # with the lib/ it imports. Written first, a lib/ that could not be written
        # left a workflow that failed every run, and a retry "already exists".
        if changes:
            target.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(src / "workflow.yaml", target)
    except OSError as exc:
        # What this copy created goes; files that were there stay (the user's, or
        # lib/ files brought to this release, which serve the other copies as well).
        for made in (_files_in(workflows_dir) | _files_in(lib)) - had:
            made.unlink(missing_ok=True)
        raise CopyNotWritten(exc) from exc
    return TemplateCopy(target, str(doc.get("name") or stem), webhooks, changes + kept)


def _files_in(folder: Path) -> set[Path]:
    try:
        return {p for p in folder.iterdir() if p.is_file()}
    except OSError:  # missing, or no folder: nothing of it to keep or remove
        return set()


def copy_stem(template_id: str, name: Any) -> str:
    """The copy's file name without ``.yaml``: ``name`` (a ``.yaml``/``.yml`` suffix
    dropped) or, for None, the template id. ValueError, saying the rule, for a name
    the API and pages cannot address: the one message `flowyard new` prints and
    the instantiate API answers."""
    # "" is a name given (and refused), not "no name": it copied to the template's id.
    stem = template_id if name is None else name
    if isinstance(stem, str) and stem.endswith((".yaml", ".yml")):
        stem = stem.rsplit(".", 1)[0]
    if isinstance(stem, str) and not stem.strip():  # blank: empty, not a bad name
        raise ValueError("a workflow name cannot be empty")
    # Only names the API and pages can address: a copy named otherwise would run
    # from the CLI but be missing from the workflow list and a 404 in the editor.
    if not valid_name(stem):
        raise ValueError(f"invalid workflow name {stem!r}: {NAME_RULE}")
    return stem


def _without_clashes(
    doc: dict[str, Any], target: Path, stem: str, store: Any = None
) -> tuple[dict[str, Any], list[Change], list[tuple[str, str, str]]]:
    """The template's document with each clash with the folder's workflows moved
    aside, the changes made, and the webhooks the result serves."""
    import blocks  # noqa: F401 - registers the block types the folder's files use
    from engine.validate import validate_document
    from engine.workflows import WorkflowStore, webhook_keys

    if store is None or Path(store.folder).resolve() != target.parent.resolve():
        store = WorkflowStore(target.parent)
    doc = copy.deepcopy(doc)
    changes: dict[tuple[str | None, str], Change] = {}
    for attempt in range(1, 100):  # a later try only when a derived value is taken too
        workflow = validate_document(doc, str(target))
        clashes = store.webhook_clashes(workflow) + store.name_clashes(workflow)
        if not clashes:
            break
        tag = stem if attempt == 1 else f"{stem}-{attempt}"
        for problem in clashes:
            key = (problem.block, problem.field or "name")
            first = changes.get(key)
            if problem.block is None:
                was = first.was if first else str(doc.get("name"))
                doc["name"] = now = f"{was} ({tag})"
            else:
                block = doc["blocks"][problem.block]
                was = first.was if first else str(block["path"])
                block["path"] = now = f"{tag}/{was.strip('/').rsplit('/', 1)[-1]}"
            message = first.message if first else problem.message
            changes[key] = Change(problem.block, key[1], was, now, message)
    else:
        raise ValueError(f"no free webhook path or name for a copy named {stem!r}")
    hooks = [(b.id, method, path) for (path, method), b in webhook_keys(workflow)]
    made = list(changes.values())
    return _with_urls_moved(doc, _moved_paths(made)), made, hooks


def _moved_paths(changes: list[Change]) -> dict[str, str]:
    """Old webhook path → the copy's."""
    return {c.was.strip("/"): c.now for c in changes if c.block is not None}


def _with_urls_moved(value: Any, moved: dict[str, str]) -> Any:
    """``value`` with each ``/webhooks/<old path>`` (a description's, a curl's)
    pointing at the copy's new path."""
    if isinstance(value, str):
        return _move_urls(value, moved)
    if isinstance(value, dict):
        return {k: _with_urls_moved(v, moved) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_urls_moved(v, moved) for v in value]
    return value


def _move_urls(text: str, moved: dict[str, str]) -> str:
    for old, new in moved.items():
        text = re.sub(rf"/webhooks/{re.escape(old)}(?![\w/.-])", f"/webhooks/{new}", text)
    return text


def _shared_schema(template: Path) -> list[Path]:
    """SQL of another template whose tables this one uses (copied along)."""
    return [ROOT / other / "schema.sql" for other in _USES_SCHEMA_OF.get(template.name, ())]


def schema_files() -> list[Path]:
    """The SQL ``flowyard db init`` applies, each file once, in a stable order.

    Every file is idempotent (``IF NOT EXISTS`` / ``CREATE OR REPLACE``).
    """
    seen: dict[Path, None] = {}
    for d in sorted(p for p in ROOT.iterdir() if p.is_dir()):
        for nm in _SCHEMA_NAMES:
            if (d / nm).is_file():
                seen[(d / nm).resolve()] = None
        for p in _shared_schema(d):
            seen[p.resolve()] = None
    return list(seen)


async def apply_schemas(conn: Any) -> list[Path]:
    """Apply :func:`schema_files` on an asyncpg connection (one transaction per
    file, under an advisory lock so two processes running ``db init`` at once do
    not race on CREATE OR REPLACE)."""
    applied = []
    for path in schema_files():
        async with conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('flowyard:db-init', 0))"
            )
            await conn.execute(path.read_text(encoding="utf-8"))
        applied.append(path)
    return applied


async def apply_schemas_in(pool: Any) -> list[Path]:
    """:func:`apply_schemas` on a connection of an asyncpg ``pool``."""
    async with pool.acquire() as conn:
        return await apply_schemas(conn)


async def apply_schemas_where_allowed(pool: Any) -> list[Path]:
    """:func:`apply_schemas_in`, when the database user may create in its schema. A
    user that may only read and write rows (the owner ran ``flowyard db init``;
    the start checked that the templates' tables are there: engine/privileges.py)
    leaves them as they are: even an unchanged ``CREATE OR REPLACE`` is refused it."""
    from engine.privileges import may_create

    async with pool.acquire() as conn:
        if not await may_create(conn):
            return []
        return await apply_schemas(conn)


def template_tables() -> tuple[str, ...]:
    """The tables the templates' schema files create (``CREATE TABLE IF NOT EXISTS``)."""
    found: dict[str, None] = {}
    for path in schema_files():
        text = path.read_text(encoding="utf-8")
        for name in re.findall(r"CREATE TABLE IF NOT EXISTS\s+(\w+)", text, re.IGNORECASE):
            found[name] = None
    return tuple(found)
