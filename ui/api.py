"""The REST API: health, workflows CRUD, block types, templates, OpenAPI.

Runs and the live stream are in :mod:`ui.api_runs` (same blueprint).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from flask import Blueprint, Response, request, url_for

from ui import workflow_files as wf
from ui.app import bridge, settings

bp = Blueprint("api", __name__, url_prefix="/api")
log = logging.getLogger("flowyard.ui")

CONTAINER_TYPES = ("loop", "parallel")


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, UUID | Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    return str(obj)


def jresponse(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON with ISO datetimes (Flask's default would write HTTP dates)."""
    body = json.dumps(obj, default=_default, ensure_ascii=False)
    return Response(body, status=status, mimetype="application/json", headers=headers)


def error(status: int, message: str, **extra: Any) -> Response:
    return jresponse({"error": message, **extra}, status)


def runtime() -> Any:
    return bridge().runtime


# -- health --------------------------------------------------------------------
@bp.get("/health")
def health() -> Response:
    try:
        pool = runtime().db.pool
        bridge().call(pool.fetchval("SELECT 1"), timeout=3)
        return jresponse({"status": "ok", "database": "ok"})
    except Exception as exc:  # any failure means "not healthy"; say which part
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return jresponse({"status": "degraded", "database": "unavailable"}, 503)


# -- workflows -----------------------------------------------------------------
@bp.get("/workflows")
def list_workflows() -> Response:
    items = [wf.summary(p) for p in wf.list_files(settings().workflows_dir)]
    for item in items:
        item["url"] = url_for("api.get_workflow", name=item["name"])
        item["editor_url"] = url_for("pages.editor", name=item["name"])
    return jresponse({"workflows": items})


def _wants_yaml() -> bool:
    best = request.accept_mimetypes.best_match(
        ["application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/plain"]
    )
    return (
        best is not None
        and best != "application/json"
        and "json" not in request.args.get("format", "")
    )


@bp.get("/workflows/<name>")
def get_workflow(name: str) -> Response:
    path = wf.find(settings().workflows_dir, name)
    if path is None:
        return error(404, f"no workflow named {name!r}")
    text = path.read_text(encoding="utf-8")
    tag = {"ETag": _etag(text)}
    if request.args.get("format") == "yaml" or (_wants_yaml() and "format" not in request.args):
        if path.suffix == ".json":
            text = wf.render(wf.parse(text, path.name), ".yaml")
        return Response(text, mimetype="application/yaml", headers=tag)
    try:
        doc = wf.parse(text, path.name)
    except ValueError as exc:
        return error(
            422,
            "the file cannot be parsed",
            problems=[{"file": path.name, "block": None, "field": None, "message": str(exc)}],
        )
    # The workflow itself, as the YAML answer holds it: saved as a .json file it
    # is a workflow file again (`flowyard validate`, PUT) — no envelope around it.
    response = jresponse(doc)
    response.headers.update(tag)
    return response


def _etag(text: str) -> str:
    """The file's version as read: a PUT with ``If-Match`` saves only over it."""
    return '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:20] + '"'


def _stale(existing: Path | None) -> Response | None:
    """412 when ``If-Match`` names another version of the file than the one on disk
    (a `git pull` or another tab saved since the client read it): last write wins
    would undo that change without a word. No ``If-Match``: saved as before."""
    wanted = request.headers.get("If-Match")
    if wanted is None:
        return None
    tags = {t.strip() for t in wanted.split(",")}
    if existing is None:
        if "*" not in tags:
            return error(412, "the workflow file was deleted since it was read")
        return error(412, "no workflow file to save over (If-Match: *)")
    current = _etag(existing.read_text(encoding="utf-8"))
    if "*" in tags or current in tags:
        return None
    return error(
        412,
        "the workflow file changed since it was read (saved elsewhere, or edited on disk): "
        "reload it, then apply your change again",
        etag=current,
    )


def request_text() -> str | None:
    """The body as UTF-8 text, or None when it is not UTF-8.

    Flask's ``get_data(as_text=True)`` would swap bad bytes for U+FFFD, and a
    saved workflow or a run input would silently lose them.
    """
    try:
        return request.get_data().decode("utf-8")
    except UnicodeDecodeError:
        return None


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refusing a key given twice: json.loads would keep the last
    copy (a second block with one id would silently replace the first)."""
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _document_from_request(name: str) -> tuple[dict[str, Any] | None, Response | None]:
    from engine.model import WorkflowError, read_document

    ctype = (request.mimetype or "").lower()
    raw = request_text()
    if raw is None:
        return None, error(400, "the body is not UTF-8 text")
    try:
        if "json" in ctype:
            doc = json.loads(raw or "null", object_pairs_hook=_no_duplicate_keys)
            if isinstance(doc, dict) and "document" in doc and isinstance(doc["document"], dict):
                doc = doc["document"]  # the envelope GET once returned: still accepted
        else:
            # The engine's strict loader: a duplicate block id or key is an error
            # naming the block, not the last copy silently replacing the first.
            doc = read_document(raw, f"{name}.yaml")
    except WorkflowError as exc:
        return None, error(422, "invalid workflow", problems=[p.to_dict() for p in exc.problems])
    except Exception as exc:  # ValueError, TypeError, yaml.YAMLError and friends
        problem = {
            "file": f"{name}.yaml",
            "block": None,
            "field": None,
            "message": f"cannot parse: {exc}",
        }
        return None, error(422, "invalid workflow", problems=[problem])
    if not isinstance(doc, dict):
        problem = {
            "file": f"{name}.yaml",
            "block": None,
            "field": None,
            "message": "a workflow must be a mapping",
        }
        return None, error(422, "invalid workflow", problems=[problem])
    return doc, None


@bp.put("/workflows/<name>")
def save_workflow(name: str) -> Response:
    if not wf.valid_name(name):
        return error(400, "a workflow name is letters, digits, '_' and '-'")
    doc, err = _document_from_request(name)
    if err is not None or doc is None:
        return err  # type: ignore[return-value]
    existing = wf.find(settings().workflows_dir, name)
    path = existing or settings().workflows_dir / f"{name}.yaml"
    stale = _stale(existing)
    if stale is not None:
        return stale
    was_named = _name_on_disk(existing)
    problems, warnings = wf.check(doc, path.name, runtime().workflows, was_named=was_named)
    if problems:
        return error(422, "invalid workflow", problems=problems)
    old_text = existing.read_text(encoding="utf-8") if existing else None
    if "json" not in (request.mimetype or "").lower() and path.suffix != ".json":
        # YAML sent is the file (a script syncing files from git): kept as written,
        # comments and all, once it validates.
        text = request_text() or ""
    elif old_text is None:
        text = wf.render(doc, path.suffix)
    else:
        # Only what changed is rewritten: an unchanged save leaves the file
        # (comments and all) byte-identical, and is not written at all.
        text = wf.render_update(old_text, doc, path.suffix)
    if text != old_text:
        wf.write_atomic(path, text)
    body: dict[str, Any] = {"name": name, "file": path.name, "saved": True}
    if warnings:  # a name clash the file already had: saved, and said
        body["warnings"] = warnings
    response = jresponse(body, 200 if existing else 201)
    response.headers["ETag"] = _etag(text)
    return response


def _name_on_disk(path: Path | None) -> str | None:
    """The ``name:`` the file has now (None: no file, or one that does not parse)."""
    if path is None:
        return None
    info = wf.summary(path)
    return None if info.get("broken") else info["title"]


@bp.post("/workflows/<name>/validate")
def validate_workflow(name: str) -> Response:
    doc, err = _document_from_request(name)
    if err is not None or doc is None:
        return err  # type: ignore[return-value]
    existing = wf.find(settings().workflows_dir, name)
    path = existing or settings().workflows_dir / f"{name}.yaml"
    problems = wf.validate(doc, path.name, runtime().workflows, was_named=_name_on_disk(existing))
    return jresponse({"valid": not problems, "problems": problems}, 422 if problems else 200)


@bp.delete("/workflows/<name>")
def delete_workflow(name: str) -> Response:
    path = wf.find(settings().workflows_dir, name)
    if path is None:
        return error(404, f"no workflow named {name!r}")
    path.unlink()
    return Response(status=204)


# -- block types and schema ----------------------------------------------------
def _ports(handler: type) -> list[str]:
    from engine.model import BlockModel

    try:
        return list(handler(BlockModel(id="x", type=handler.type, config={})).ports())
    except Exception:  # a handler that needs config to list ports: the default
        return ["default"]


@bp.get("/block-types")
def list_block_types() -> Response:
    from engine.registry import block_types
    from engine.schema import COMMON_PROPERTIES

    out = {}
    for name, h in sorted(block_types().items()):
        ports = _ports(h)
        if name == "condition" and ports == ["default"]:
            ports = ["true", "false"]
        out[name] = {
            "type": name,
            "category": getattr(h, "category", "action"),
            "description": getattr(h, "description", ""),
            "config_schema": getattr(h, "config_schema", {}),
            "required": list(getattr(h, "required", ())),
            "outputs": list(getattr(h, "outputs", ())),
            "ports": ports,
            "container": name in CONTAINER_TYPES or getattr(h, "category", "") == "container",
        }
    return jresponse({"block_types": out, "common": COMMON_PROPERTIES})


@bp.get("/schema")
def get_schema() -> Response:
    from engine.schema import workflow_schema

    return jresponse(workflow_schema())


# -- templates -------------------------------------------------------------------
def _templates_module() -> Any:
    import templates

    return templates


@bp.get("/templates")
def list_templates() -> Response:
    try:
        items = _templates_module().list_templates()
    except (ImportError, AttributeError):
        return jresponse({"templates": [], "note": "templates are not installed"})
    return jresponse({"templates": [_template_dict(t) for t in items]})


def _template_dict(t: Any) -> dict[str, Any]:
    if isinstance(t, dict):
        return t
    if dataclasses.is_dataclass(t) and not isinstance(t, type):
        return dataclasses.asdict(t)
    return {
        k: getattr(t, k) for k in ("id", "name", "title", "description", "variant") if hasattr(t, k)
    }


@bp.post("/templates/<template_id>/instantiate")
def instantiate_template(template_id: str) -> Response:
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        return error(400, 'the body must be a JSON object such as {"name": "orders"}')
    name = body.get("name") or request.form.get("name") or None
    if name is not None and not (isinstance(name, str) and wf.valid_name(name)):
        return error(400, "a workflow name is letters, digits, '_' and '-'")
    made, err = copy_template(template_id, name)
    if err is not None or made is None:
        return err  # type: ignore[return-value]
    _apply_template_schemas()
    path = Path(made.path)
    return jresponse(
        {
            "name": path.stem,
            "file": path.name,
            "title": made.title,
            "editor_url": url_for("pages.editor", name=path.stem),
            # Where the copy answers, and what was changed so it clashes with no
            # other file (its path and name: otherwise the template's own).
            "webhooks": [
                {"block": block, "method": method, "path": hook, "url": f"/webhooks/{hook}"}
                for block, method, hook in made.webhooks
            ],
            "changes": [c.to_dict() for c in made.changes],
        },
        201,
    )


def copy_template(template_id: str, name: str | None) -> tuple[Any, Response | None]:
    """``templates.copy_template`` into the workflows folder, or the error response."""
    try:
        made = _templates_module().copy_template(template_id, settings().workflows_dir, name=name)
    except (KeyError, LookupError) as exc:
        return None, error(404, f"no template {template_id!r}", detail=str(exc))
    except FileExistsError:
        return None, error(409, f"a workflow named {name or template_id!r} already exists")
    except ValueError as exc:
        return None, error(400, str(exc))
    except (ImportError, AttributeError):
        return None, error(503, "templates are not installed")
    return made, None


def _apply_template_schemas() -> None:
    """A template is ready to run once created: its tables exist (idempotent DDL)."""

    bridge().call(_templates_module().apply_schemas_in(runtime().db.pool), timeout=60)


@bp.get("/openapi.json")
def openapi() -> Response:
    from ui.openapi import document

    return jresponse(document())


from ui import api_events, api_runs  # noqa: E402,F401  (they register their routes on ``bp``)
